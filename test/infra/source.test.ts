import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { CACHE_DIR_NAME } from '../../functions/src/coldstart/files';
import { LockfileError, productionLockfile, runtimeClosure, type LockFile } from '../../infra/lockfile';
import { checkBundledVersions, hashTree, prepareSource, productionManifest, productionPackageJson, productionLockfileText } from '../../infra/source';
import { FakeBuild } from './mocks';

const ROOT = path.resolve(__dirname, '../..');

/** Package name of a bare specifier: `@scope/pkg/sub` → `@scope/pkg`, `pkg/sub` → `pkg`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Every module the deployed entry loads at run time, following relative imports from `entry`
 * (type-only imports are erased by the compiler and skipped). Returns the source files reached and
 * the bare specifiers they import.
 */
function runtimeImports(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.includes(file)) continue;
    files.push(file);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const specifiers: string[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) {
        const bindings = node.importClause?.namedBindings;
        const onlyTypes =
          node.importClause?.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.every((e) => e.isTypeOnly);
        if (!onlyTypes) specifiers.push(node.moduleSpecifier.text);
      } else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        specifiers.push(node.moduleSpecifier.text);
      } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0]!)) {
        const callee = node.expression;
        if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) {
          specifiers.push((node.arguments[0] as ts.StringLiteral).text);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    for (const specifier of specifiers) {
      if (!specifier.startsWith('.')) {
        packages.add(packageOf(specifier));
        continue;
      }
      const base = path.resolve(path.dirname(file), specifier.replace(/\.js$/, ''));
      const resolved = [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => existsSync(candidate));
      assert.ok(resolved, `${path.relative(ROOT, file)} imports ${specifier}, which has no .ts source`);
      pending.push(resolved);
    }
  }
  return { files, packages };
}

describe('infra: source archive', () => {
  it('writes a production package.json: runtime dependencies pinned to the locked versions, Node 22, the compiled entry', () => {
    const manifest = JSON.parse(
      productionPackageJson(
        { name: 'portfolio-scraper', version: '1.2.3', dependencies: { undici: '^7.30.2', cheerio: '1.2.0' } },
        { packages: { 'node_modules/undici': { version: '7.30.9' }, 'node_modules/cheerio': { version: '1.2.0' } } },
      ),
    ) as Record<string, unknown>;
    assert.deepEqual(manifest, {
      name: 'portfolio-scraper-functions',
      version: '1.2.3',
      private: true,
      main: 'index.cjs',
      engines: { node: '22.x' },
      dependencies: { undici: '7.30.9', cheerio: '1.2.0' },
    });
  });

  it('deploys every runtime dependency of this repository and none of its tooling', () => {
    const root = path.resolve(__dirname, '../..');
    const rootPackage = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as LockFile;
    const manifest = JSON.parse(productionPackageJson(rootPackage, lock)) as { dependencies: Record<string, string>; scripts?: unknown };
    assert.deepEqual(Object.keys(manifest.dependencies).sort(), Object.keys(rootPackage.dependencies).sort());
    assert.ok('@google-cloud/functions-framework' in manifest.dependencies, 'the runtime starts functions-framework');
    for (const version of Object.values(manifest.dependencies)) assert.match(version, /^\d+\.\d+\.\d+/);
    assert.equal(manifest.scripts, undefined);
  });

  it('bundles, for each deployed entry, only files under functions/ and runtime dependencies', () => {
    const rootPackage = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    for (const entryPoint of ['api', 'scrapeArticle', 'recordDeadLetter']) {
      const { files, packages } = runtimeImports(path.join(ROOT, 'functions/src/entry', `${entryPoint}.ts`));
      for (const file of files) {
        assert.ok(file.startsWith(path.join(ROOT, 'functions') + path.sep), `${path.relative(ROOT, file)} is outside functions/`);
      }
      const missing = [...packages].filter((name) => !builtins.has(name) && !(name in rootPackage.dependencies));
      assert.deepEqual(missing, [], `${entryPoint} imports at run time what is not a runtime dependency (move it to "dependencies")`);
      assert.ok(packages.has('@google-cloud/functions-framework'), entryPoint);
    }
  });

  it('refuses a runtime dependency the lock does not pin, rather than deploying a range', () => {
    assert.throws(() => productionPackageJson({ dependencies: { undici: '^7.30.2' } }, { packages: {} }), LockfileError);
  });

  it('deploys a lockfile that is, entry for entry, the runtime part of package-lock.json', () => {
    const rootPackage = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as LockFile;
    const manifest = productionManifest(rootPackage, lock);
    const deployed = JSON.parse(productionLockfileText(manifest, lock)) as LockFile;
    const deployedPackages = deployed.packages ?? {};
    // npm itself marks what only development needs with `dev`; everything else is what runs.
    const runtime = Object.entries(lock.packages ?? {}).filter(([location, entry]) => location !== '' && entry.dev !== true);
    assert.ok(runtime.length > Object.keys(rootPackage.dependencies).length, 'the lock lists transitive dependencies');
    assert.deepEqual(Object.keys(deployedPackages).filter((location) => location !== '').sort(), runtime.map(([location]) => location).sort());
    for (const [location, entry] of runtime) {
      const { devOptional, ...rest } = entry;
      assert.deepEqual(deployedPackages[location], devOptional ? { ...rest, optional: true } : rest, `${location} differs from package-lock.json`);
    }
    assert.deepEqual(deployedPackages['']?.dependencies, manifest.dependencies);
    assert.equal(deployed.lockfileVersion, lock.lockfileVersion);
  });

  it('is a lockfile npm ci accepts for the deployed package.json, installing exactly its packages (offline dry run)', function () {
    this.timeout(60_000);
    const rootPackage = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as LockFile;
    const dir = mkdtempSync(path.join(tmpdir(), 'infra-npm-ci-'));
    try {
      const manifest = productionManifest(rootPackage, lock);
      writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      writeFileSync(path.join(dir, 'package-lock.json'), productionLockfileText(manifest, lock));
      // --offline: nothing may be fetched, so a lock that does not satisfy package.json fails
      // instead of being re-resolved; --dry-run: the tree is computed, nothing is installed.
      const result = spawnSync('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', timeout: 50_000 });
      assert.equal(result.status, 0, result.stderr);
      const count = Object.keys(JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')).packages).length - 1;
      assert.match(result.stdout, new RegExp(`added ${count} packages`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('puts the bundle, its package.json and its lockfile (functions-framework\'s tree only) in each function\'s archive', async () => {
    const build = new FakeBuild();
    try {
      // A cache from a local warm-up is not shipped: Cloud Build writes the archive's own.
      mkdirSync(path.join(build.dir, 'deploy', 'scrapeArticle', CACHE_DIR_NAME));
      writeFileSync(path.join(build.dir, 'deploy', 'scrapeArticle', CACHE_DIR_NAME, 'stale'), 'x');
      const source = prepareSource(ROOT, build.dir, 'scrapeArticle');
      assert.match(source.objectName, /^scrapeArticle-[0-9a-f]{16}\.zip$/);
      const assets = (await source.archive.assets) as Record<string, { text?: Promise<string> }>;
      assert.deepEqual(Object.keys(assets).sort(), ['bundled.json', 'index.cjs', 'package-lock.json', 'package.json']);
      const manifest = JSON.parse((await assets['package.json']!.text)!) as ReturnType<typeof productionManifest>;
      assert.deepEqual(Object.keys(manifest.dependencies), ['@google-cloud/functions-framework']);
      assert.equal(manifest.main, 'index.cjs');
      // Cloud Build runs it after npm ci: the warm-up that writes the code cache (test/infra/bundle.test.ts runs it).
      assert.deepEqual(manifest.scripts, { 'gcp-build': 'node warmup.js scrapeArticle' });
      const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as LockFile;
      assert.equal(await assets['package-lock.json']!.text, productionLockfileText(manifest, lock));
      const deployed = JSON.parse((await assets['package-lock.json']!.text)!) as LockFile;
      assert.ok(deployed.packages?.['node_modules/express'], 'functions-framework\'s own dependencies are locked');
      assert.equal(deployed.packages?.['node_modules/@google-cloud/firestore'], undefined, 'inlined packages are not installed again');
    } finally {
      build.remove();
    }
  });

  it('prunes by following dependencies as Node resolves them: nested copies, optional and peer dependencies', () => {
    const lock: LockFile = {
      lockfileVersion: 3,
      packages: {
        '': { name: 'app', dependencies: { a: '^1.0.0' }, devDependencies: { tool: '^1.0.0' } },
        'node_modules/a': { version: '1.0.0', dependencies: { b: '^2.0.0', c: '^1.0.0' }, optionalDependencies: { gone: '^1.0.0', opt: '^1.0.0' }, peerDependencies: { p: '*' } },
        'node_modules/a/node_modules/b': { version: '2.0.0', dependencies: { c: '^1.0.0' } },
        'node_modules/b': { version: '1.0.0', dev: true },
        'node_modules/c': { version: '1.0.0' },
        'node_modules/opt': { version: '1.0.0', devOptional: true },
        'node_modules/p': { version: '3.0.0' },
        'node_modules/tool': { version: '1.0.0', dev: true, dependencies: { b: '^1.0.0' } },
      },
    };
    assert.deepEqual(runtimeClosure(lock, ['a']), ['node_modules/a', 'node_modules/a/node_modules/b', 'node_modules/c', 'node_modules/opt', 'node_modules/p']);
    const pruned = productionLockfile(lock, { name: 'app-functions', version: '1.0.0', dependencies: { a: '1.0.0' } });
    assert.deepEqual(pruned.packages?.['node_modules/opt'], { version: '1.0.0', optional: true });
    assert.equal(pruned.packages?.['node_modules/b'], undefined);
    assert.throws(() => runtimeClosure(lock, ['missing']), LockfileError);
  });

  it('refuses a bundle that inlines a package version other than the locked one, or one the lock does not have', async () => {
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as LockFile;
    const locked = lock.packages!['node_modules/undici']!.version!;
    assert.doesNotThrow(() => checkBundledVersions({ 'node_modules/undici': locked }, lock));
    assert.throws(() => checkBundledVersions({ 'node_modules/undici': '0.0.1' }, lock), /package-lock.json locks/);
    assert.throws(() => checkBundledVersions({ 'node_modules/left-pad-nowhere': '1.0.0' }, lock), /does not have/);
    const build = new FakeBuild();
    try {
      build.write('exports.ok = true;\n', 'api', { 'node_modules/undici': '0.0.1' });
      assert.throws(() => prepareSource(ROOT, build.dir, 'api'), { code: 'invalid-lockfile' });
    } finally {
      build.remove();
    }
  });

  it('hashes the compiled tree so that any change to the code changes the hash', () => {
    const build = new FakeBuild('exports.a = 1;\n');
    try {
      const first = hashTree(build.dir, '{}', '{}');
      assert.equal(hashTree(build.dir, '{}', '{}'), first);
      assert.notEqual(hashTree(build.dir, '{"dependencies":{}}', '{}'), first);
      assert.notEqual(hashTree(build.dir, '{}', '{"packages":{}}'), first, 'a lockfile change redeploys');
      build.write('exports.a = 2;\n');
      assert.notEqual(hashTree(build.dir, '{}', '{}'), first);
    } finally {
      build.remove();
    }
  });
});
