/**
 * The one source archive all three functions deploy from: the compiled `functions/` tree that
 * `npm run build` writes, plus a production package.json and package-lock.json. Cloud Build installs
 * the dependencies itself (`npm ci`, because a lockfile is present), so the archive carries no
 * node_modules, and what it installs is, package for package, the tree the tests ran on.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { lockedVersion, LockfileError, productionLockfile, type LockFile } from './lockfile';
import { NODE_MAJOR } from './runtime';
import { InfraError } from './settings';

/** The module the functions' runtime loads; it registers `api`, `scrapeArticle` and `recordDeadLetter`. */
export const ENTRY_MODULE = 'functions/src/index.js';

/** A source archive ready to upload. */
export interface FunctionSource {
  archive: pulumi.asset.AssetArchive;
  /** sha256 of everything in the archive; part of the object name, so a code change redeploys. */
  hash: string;
  /** Bucket object name, e.g. `functions-3f2a….zip`. */
  objectName: string;
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
}

/**
 * The package.json deployed with the code: runtime dependencies only, each pinned to the version
 * the tests ran with (taken from package-lock.json; a dependency the lock lacks throws), and no
 * scripts — a `build` script would make Cloud Build try to compile sources the archive does not contain.
 */
export function productionManifest(rootPackage: PackageFile, lock: LockFile): ProductionManifest {
  const dependencies: Record<string, string> = {};
  for (const name of Object.keys(rootPackage.dependencies ?? {})) dependencies[name] = lockedVersion(lock, name);
  return {
    name: `${rootPackage.name ?? 'portfolio-scraper'}-functions`,
    version: rootPackage.version ?? '0.0.0',
    private: true,
    main: ENTRY_MODULE,
    engines: { node: `${NODE_MAJOR}.x` },
    dependencies,
  };
}

/** {@link productionManifest} as the file's text. */
export function productionPackageJson(rootPackage: PackageFile, lock: LockFile): string {
  return `${JSON.stringify(productionManifest(rootPackage, lock), null, 2)}\n`;
}

/** The deployed package-lock.json's text: the repository's lock pruned to `manifest`'s runtime tree. */
export function productionLockfileText(manifest: ProductionManifest, lock: LockFile): string {
  return `${JSON.stringify(productionLockfile(lock, manifest), null, 2)}\n`;
}

function listFiles(dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
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
 * Builds the archive from `<buildDir>/functions`. Throws `missing-build` when the compiled entry
 * module is absent: `pulumi up` without `npm run build` first would otherwise deploy stale or no code.
 */
export function prepareSource(repoRoot: string, buildDir: string): FunctionSource {
  const buildRoot = path.resolve(repoRoot, buildDir);
  const entry = path.join(buildRoot, ENTRY_MODULE);
  if (!existsSync(entry) || !statSync(entry).isFile()) {
    throw new InfraError(
      'missing-build',
      `compiled entry ${entry} not found; run \`npm run build\` (or \`npm run deploy\`, which builds first), or point sourceDir at the build output`,
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
    manifest = productionManifest(rootPackage, lock);
    lockfile = productionLockfileText(manifest, lock);
  } catch (error) {
    if (!(error instanceof LockfileError || error instanceof SyntaxError)) throw error;
    throw new InfraError('invalid-lockfile', `package-lock.json: ${error.message}`);
  }
  const packageJson = `${JSON.stringify(manifest, null, 2)}\n`;
  const functionsDir = path.join(buildRoot, 'functions');
  const hash = hashTree(functionsDir, packageJson, lockfile);
  return {
    archive: new pulumi.asset.AssetArchive({
      'package.json': new pulumi.asset.StringAsset(packageJson),
      'package-lock.json': new pulumi.asset.StringAsset(lockfile),
      functions: new pulumi.asset.FileArchive(functionsDir),
    }),
    hash,
    objectName: `functions-${hash.slice(0, 16)}.zip`,
  };
}
