/**
 * Bundles each deployed function into one file of its own (esbuild): `functions/src/entry/<target>.ts`
 * with everything it imports, except functions-framework, which the buildpack starts from
 * node_modules and so is installed from the production lockfile instead (with what it shares with us).
 *
 *   npx tsx build/bundle.ts [outDir]       (default dist/deploy; `npm run build` runs it)
 *
 * Writes `<outDir>/<target>/index.cjs`, its code-cache preload `compileCache.js` and warm-up
 * `warmup.js` (functions/src/coldstart/), and `<outDir>/<target>/bundled.json`: every
 * package inlined into the bundle with the version installed in node_modules, which infra/ checks
 * against package-lock.json, so a bundle built from anything but the locked tree is not deployed.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { ENTRY_FILE, PRELOAD_FILE, WARMUP_FILE } from '../functions/src/coldstart/files';
import { runtimeClosure, type LockFile } from '../infra/lockfile';
import { lazyProtoDescriptorsPlugin } from './lazyProtoDescriptors';

/** The three deployed functions (the entry point name each registers). */
export const DEPLOYED_TARGETS = ['api', 'scrapeArticle', 'recordDeadLetter'] as const;
export type DeployedTarget = (typeof DEPLOYED_TARGETS)[number];

/** Installed from the lockfile, not inlined: the buildpack runs functions-framework's own binary, which loads the bundle. */
export const FRAMEWORK_PACKAGES = ['@google-cloud/functions-framework'] as const;

/**
 * What the bundles leave to node_modules: functions-framework, and every runtime dependency of ours
 * that functions-framework loads anyway from the same place (express): inlining a second copy
 * would load it twice at every cold start.
 */
export function externalPackages(lock: LockFile, runtimeDependencies: string[]): string[] {
  const frameworkTree = new Set(runtimeClosure(lock, [...FRAMEWORK_PACKAGES]));
  const shared = runtimeDependencies.filter((name) => !(FRAMEWORK_PACKAGES as readonly string[]).includes(name) && frameworkTree.has(`node_modules/${name}`));
  return [...FRAMEWORK_PACKAGES, ...shared.sort()];
}

/** `bundled.json`: what one bundle inlined. */
export interface BundleManifest {
  target: DeployedTarget;
  /** `node_modules/…` location → version of every package whose code is in the bundle. */
  bundled: Record<string, string>;
  /** Packages the bundle requires at run time (installed from the production lockfile). */
  external: string[];
}

const ROOT = path.resolve(__dirname, '..');

/** `…/node_modules/a/node_modules/@s/b/lib/x.js` → `node_modules/a/node_modules/@s/b`. */
export function packageLocation(input: string): string | undefined {
  const parts = input.split('/');
  let end = -1;
  for (let index = 0; index < parts.length; index++) {
    if (parts[index] !== 'node_modules') continue;
    end = index + (parts[index + 1]?.startsWith('@') ? 2 : 1);
  }
  if (end < 0) return undefined;
  const start = parts.indexOf('node_modules');
  return parts.slice(start, end + 1).join('/');
}

function bundledPackages(metafile: Metafile): Record<string, string> {
  const bundled: Record<string, string> = {};
  for (const input of Object.keys(metafile.inputs)) {
    const location = packageLocation(input);
    if (location === undefined || location in bundled) continue;
    const manifest = JSON.parse(readFileSync(path.join(ROOT, location, 'package.json'), 'utf8')) as { version: string };
    bundled[location] = manifest.version;
  }
  return Object.fromEntries(Object.entries(bundled).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Leaves out of the bundle every package outside the runtime tree of package-lock.json, as
 * `npm ci --omit=dev` would leave it out of node_modules: a runtime package's optional
 * `require('supports-color')` must fail in the bundle as it fails in production, not inline a
 * development-only copy that happens to be installed here.
 */
function runtimeTreeOnly(runtime: ReadonlySet<string>): Plugin {
  return {
    name: 'runtime-tree-only',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'resolving' || args.path.startsWith('node:')) return undefined;
        const resolved = await pluginBuild.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolving' });
        if (resolved.errors.length > 0 || resolved.external) return resolved;
        const location = packageLocation(path.relative(ROOT, resolved.path).split(path.sep).join('/'));
        if (location !== undefined && !runtime.has(location)) return { path: args.path, external: true };
        return resolved;
      });
    },
  };
}

/** Bundles every target into `outDir` (emptied first). */
export async function bundleFunctions(outDir: string): Promise<BundleManifest[]> {
  rmSync(outDir, { recursive: true, force: true });
  const rootPackage = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as LockFile;
  const runtime = new Set(runtimeClosure(lock, Object.keys(rootPackage.dependencies ?? {})));
  const external = externalPackages(lock, Object.keys(rootPackage.dependencies ?? {}));
  const manifests: BundleManifest[] = [];
  const bundleOne = (entry: string, outfile: string): Promise<{ metafile: Metafile }> =>
    build({
      absWorkingDir: ROOT,
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      // Less to read and parse at every cold start. Identifiers are kept so that a stack trace in
      // the logs still names functions (no source map is shipped: Node would not read it).
      minifyWhitespace: true,
      minifySyntax: true,
      // `import()` becomes `require()`: a module that calls import() cannot use the code cache (functions/src/coldstart/compileCache.ts).
      supported: { 'dynamic-import': false },
      external,
      // The clients' protobuf descriptors only gRPC reflection reads are made on first read, not at the first RPC (build/lazyProtoDescriptors.ts).
      plugins: [runtimeTreeOnly(runtime), lazyProtoDescriptorsPlugin()],
      metafile: true,
      logLevel: 'warning',
      legalComments: 'none',
    });
  for (const target of DEPLOYED_TARGETS) {
    const dir = path.join(outDir, target);
    mkdirSync(dir, { recursive: true });
    const result = await bundleOne(`functions/src/entry/${target}.ts`, path.join(dir, ENTRY_FILE));
    // The code cache every instance preloads, and the build-time warm-up that writes it (functions/src/coldstart/).
    await bundleOne('functions/src/coldstart/preload.ts', path.join(dir, PRELOAD_FILE));
    await bundleOne('functions/src/coldstart/warmup.ts', path.join(dir, WARMUP_FILE));
    if (target === 'scrapeArticle') {
      // The scraper's extraction worker thread (functions/src/isolation/extractPool.ts) loads this
      // file from beside the bundle: a bundle of its own, as the worker runs in a fresh isolate.
      await bundleOne('functions/src/isolation/extractWorker.ts', path.join(dir, 'extractWorker.js'));
    }
    const manifest: BundleManifest = { target, bundled: bundledPackages(result.metafile), external };
    writeFileSync(path.join(dir, 'bundled.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    manifests.push(manifest);
  }
  return manifests;
}

if (require.main === module) {
  const outDir = path.resolve(process.argv[2] ?? path.join(ROOT, 'dist', 'deploy'));
  bundleFunctions(outDir).then(
    (manifests) => {
      for (const manifest of manifests) console.log(`${manifest.target}: ${Object.keys(manifest.bundled).length} packages inlined → ${path.relative(process.cwd(), path.join(outDir, manifest.target, ENTRY_FILE))}`);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
