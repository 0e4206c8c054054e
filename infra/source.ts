/**
 * The source archive of each function: its own bundle (`npm run build` → build/bundle.ts writes
 * `dist/deploy/<entryPoint>/`, with the code-cache preload and its build-time warm-up), plus a production package.json and package-lock.json for what the
 * bundle does not inline (functions-framework, which the buildpack starts). Cloud Build installs
 * that with `npm ci`, because a lockfile is present; the bundle's inlined packages are checked
 * against package-lock.json here. So what runs is, package for package, the tree the tests ran on.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { CACHE_DIR_NAME, ENTRY_FILE, PRELOAD_FILE, WARMUP_FILE } from '../functions/src/coldstart/files';
import type { EntryPoint } from './function';
import { lockedVersion, LockfileError, productionLockfile, type LockFile } from './lockfile';
import { NODE_MAJOR } from './runtime';
import { InfraError } from './settings';

/**
 * Where the buildpack puts the archive's files in the image: the deployed app's directory, where
 * functions-framework runs from.
 */
export const APP_DIR = '/workspace';

/**
 * Every instance preloads the code cache (functions/src/coldstart/) before functions-framework, so a
 * cold start loads compiled code; `gcp-build` (below) writes the cache.
 */
export const NODE_OPTIONS = `--require=${APP_DIR}/${PRELOAD_FILE}`;

/** What build/bundle.ts writes next to each bundle (see BundleManifest there). */
export const BUNDLE_MANIFEST = 'bundled.json';

/** The functions, each deployed from its own archive. */
export const ENTRY_POINTS: readonly EntryPoint[] = ['api', 'scrapeArticle', 'recordDeadLetter'];

/** A source archive ready to upload. */
export interface FunctionSource {
  archive: pulumi.asset.AssetArchive;
  /** sha256 of everything in the archive; part of the object name, so a code change redeploys. */
  hash: string;
  /** Bucket object name, e.g. `scrapeArticle-3f2a….zip`. */
  objectName: string;
}

/** `bundled.json`, as far as it is read here. */
interface BundleManifest {
  bundled: Record<string, string>;
  external: string[];
}

interface PackageFile {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
}

/** The deployed package.json, as an object. */
export interface ProductionManifest {
  name: string;
  version: string;
  private: true;
  main: string;
  engines: { node: string };
  dependencies: Record<string, string>;
  scripts?: { 'gcp-build': string };
}

/**
 * The package.json deployed with the code: the packages `installed` at run time (default: every
 * runtime dependency), each pinned to the version the tests ran with (taken from
 * package-lock.json; a dependency the lock lacks throws). Its one script is the `gcp-build` of
 * `warmUp`'s archive, which Cloud Build runs after `npm ci` (and instead of `build`, which would try to
 * compile sources the archive does not contain): the warm-up that writes the code cache.
 */
export function productionManifest(
  rootPackage: PackageFile,
  lock: LockFile,
  installed: string[] = Object.keys(rootPackage.dependencies ?? {}),
  warmUp?: EntryPoint,
): ProductionManifest {
  const dependencies: Record<string, string> = {};
  for (const name of installed) {
    if (!(name in (rootPackage.dependencies ?? {}))) throw new LockfileError(`${name} is installed at run time but is not a runtime dependency in package.json`);
    dependencies[name] = lockedVersion(lock, name);
  }
  return {
    name: `${rootPackage.name ?? 'portfolio-scraper'}-functions`,
    version: rootPackage.version ?? '0.0.0',
    private: true,
    main: ENTRY_FILE,
    engines: { node: `${NODE_MAJOR}.x` },
    dependencies,
    ...(warmUp === undefined ? {} : { scripts: { 'gcp-build': `node ${WARMUP_FILE} ${warmUp}` } }),
  };
}

/** {@link productionManifest} as the file's text. */
export function productionPackageJson(rootPackage: PackageFile, lock: LockFile, installed?: string[]): string {
  return `${JSON.stringify(productionManifest(rootPackage, lock, installed), null, 2)}\n`;
}

/**
 * Throws unless every package inlined into a bundle is the version package-lock.json locks at that
 * location: a bundle built from another tree (a stale node_modules, an `npm install` without
 * committing the lock) would deploy code no test ran.
 */
export function checkBundledVersions(bundled: Record<string, string>, lock: LockFile): void {
  for (const [location, version] of Object.entries(bundled)) {
    const entry = lock.packages?.[location];
    if (entry === undefined) throw new LockfileError(`the bundle inlines ${location}, which package-lock.json does not have; run npm ci, then npm run build`);
    if (entry.dev === true) throw new LockfileError(`the bundle inlines ${location}, a development-only package`);
    if (entry.version !== version) {
      throw new LockfileError(`the bundle inlines ${location} ${version} but package-lock.json locks ${entry.version}; run npm ci, then npm run build`);
    }
  }
}

/** The deployed package-lock.json's text: the repository's lock pruned to `manifest`'s runtime tree. */
export function productionLockfileText(manifest: ProductionManifest, lock: LockFile): string {
  return `${JSON.stringify(productionLockfile(lock, manifest), null, 2)}\n`;
}

/**
 * The files of a bundle directory, but a code cache left there by a local warm-up: the cache must be
 * written by Cloud Build's own Node.js (the archive's gcp-build), for the paths the function runs at.
 */
function listFiles(dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (prefix === '' && entry.name === CACHE_DIR_NAME) continue;
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...listFiles(path.join(dir, entry.name), relative));
    else if (entry.isFile()) files.push(relative);
  }
  return files;
}

/**
 * sha256 over the relative path and bytes of every file under `dir` plus `extra` (the generated
 * package.json and lockfile), in a fixed order so the same tree always gives the same hash.
 */
export function hashTree(dir: string, ...extra: string[]): string {
  const hash = createHash('sha256');
  for (const text of extra) hash.update(`${text}\0`);
  for (const file of listFiles(dir).sort()) {
    hash.update(`\0${file}\0`);
    hash.update(readFileSync(path.join(dir, file)));
  }
  return hash.digest('hex');
}

/**
 * Builds the archive of `entryPoint` from `<buildDir>/deploy/<entryPoint>`. Throws `missing-build`
 * when its bundle is absent (`pulumi up` without `npm run build` first would otherwise deploy stale or
 * no code) and `invalid-lockfile` when the lock cannot vouch for what would be deployed.
 */
export function prepareSource(repoRoot: string, buildDir: string, entryPoint: EntryPoint): FunctionSource {
  const bundleDir = path.join(path.resolve(repoRoot, buildDir), 'deploy', entryPoint);
  const entry = path.join(bundleDir, ENTRY_FILE);
  if (!existsSync(entry) || !statSync(entry).isFile() || !existsSync(path.join(bundleDir, BUNDLE_MANIFEST))) {
    throw new InfraError(
      'missing-build',
      `bundle ${entry} not found; run \`npm run build\` (or \`npm run deploy\`, which builds first), or point sourceDir at the build output`,
      'sourceDir',
    );
  }
  const rootPackage = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageFile;
  // No lockfile, no deploy: without it Cloud Build would resolve every transitive version afresh.
  const lockPath = path.join(repoRoot, 'package-lock.json');
  if (!existsSync(lockPath)) throw new InfraError('invalid-lockfile', `${lockPath} not found; run \`npm install\` and commit it`);
  let manifest: ProductionManifest;
  let lockfile: string;
  try {
    const lock = JSON.parse(readFileSync(lockPath, 'utf8')) as LockFile;
    const bundle = JSON.parse(readFileSync(path.join(bundleDir, BUNDLE_MANIFEST), 'utf8')) as BundleManifest;
    checkBundledVersions(bundle.bundled, lock);
    manifest = productionManifest(rootPackage, lock, bundle.external, entryPoint);
    lockfile = productionLockfileText(manifest, lock);
  } catch (error) {
    if (!(error instanceof LockfileError || error instanceof SyntaxError)) throw error;
    throw new InfraError('invalid-lockfile', `${entryPoint}: ${error.message}`);
  }
  const packageJson = `${JSON.stringify(manifest, null, 2)}\n`;
  const hash = hashTree(bundleDir, packageJson, lockfile);
  const files = Object.fromEntries(listFiles(bundleDir).map((file) => [file, new pulumi.asset.FileAsset(path.join(bundleDir, file))]));
  return {
    archive: new pulumi.asset.AssetArchive({
      ...files,
      'package.json': new pulumi.asset.StringAsset(packageJson),
      'package-lock.json': new pulumi.asset.StringAsset(lockfile),
    }),
    hash,
    objectName: `${entryPoint}-${hash.slice(0, 16)}.zip`,
  };
}
