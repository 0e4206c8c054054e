import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import ts from 'typescript';
import { hashTree, productionPackageJson } from '../../infra/source';
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
        { packages: { 'node_modules/undici': { version: '7.30.9' } } },
      ),
    ) as Record<string, unknown>;
    assert.deepEqual(manifest, {
      name: 'portfolio-scraper-functions',
      version: '1.2.3',
      private: true,
      main: 'functions/src/index.js',
      engines: { node: '22.x' },
      dependencies: { undici: '7.30.9', cheerio: '1.2.0' },
    });
  });

  it('deploys every runtime dependency of this repository and none of its tooling', () => {
    const root = path.resolve(__dirname, '../..');
    const rootPackage = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as object;
    const manifest = JSON.parse(productionPackageJson(rootPackage, lock)) as { dependencies: Record<string, string>; scripts?: unknown };
    assert.deepEqual(Object.keys(manifest.dependencies).sort(), Object.keys(rootPackage.dependencies).sort());
    assert.ok('@google-cloud/functions-framework' in manifest.dependencies, 'the runtime starts functions-framework');
    for (const version of Object.values(manifest.dependencies)) assert.match(version, /^\d+\.\d+\.\d+/);
    assert.equal(manifest.scripts, undefined);
  });

  it('archives everything the deployed entry loads: only files under functions/ and runtime dependencies', function () {
    const entry = path.join(ROOT, 'functions/src/index.ts');
    if (!existsSync(entry)) {
      this.skip(); // functions/src/index.ts (the pipeline's entry) has not landed yet
    }
    const rootPackage = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const { files, packages } = runtimeImports(entry);
    for (const file of files) {
      assert.ok(file.startsWith(path.join(ROOT, 'functions') + path.sep), `${path.relative(ROOT, file)} is outside functions/ and not archived`);
    }
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    const missing = [...packages].filter((name) => !builtins.has(name) && !(name in rootPackage.dependencies));
    assert.deepEqual(missing, [], 'imported at run time but not a runtime dependency (move it to "dependencies")');
    assert.ok(packages.has('@google-cloud/functions-framework'));
  });

  it('hashes the compiled tree so that any change to the code changes the hash', () => {
    const build = new FakeBuild('exports.a = 1;\n');
    try {
      const first = hashTree(build.dir, '{}');
      assert.equal(hashTree(build.dir, '{}'), first);
      assert.notEqual(hashTree(build.dir, '{"dependencies":{}}'), first);
      build.write('exports.a = 2;\n');
      assert.notEqual(hashTree(build.dir, '{}'), first);
    } finally {
      build.remove();
    }
  });
});
