/**
 * The production lockfile deployed with the functions: package-lock.json pruned to the packages the
 * runtime needs, every entry copied unchanged, so the buildpack's `npm ci` installs exactly the tree
 * the tests ran on instead of resolving transitive versions afresh.
 */

/** One entry of a lockfile v2/v3 `packages` map (only the fields read here are typed). */
export interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  link?: boolean;
  [field: string]: unknown;
}

/** package-lock.json, lockfile version 2 or 3. */
export interface LockFile {
  name?: string;
  version?: string;
  lockfileVersion?: number;
  requires?: boolean;
  packages?: Record<string, LockEntry>;
  [field: string]: unknown;
}

/** Why a lockfile could not be pruned (an out-of-date or foreign lockfile). */
export class LockfileError extends Error {
  override readonly name = 'LockfileError';
}

/** Where `name` required from the package installed at `from` resolves: the nearest node_modules up the tree. */
export function resolveLocation(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (base === '') return undefined;
    // `node_modules/a/node_modules/@s/b` → `node_modules/a`; `node_modules/a` → ''.
    const at = base.lastIndexOf('node_modules/');
    base = base.slice(0, Math.max(0, at - 1));
  }
}

/**
 * Locations (`node_modules/…` keys) of every package that `roots` need at run time, following
 * dependencies, optional dependencies and peer dependencies the way Node resolves them. A required
 * dependency missing from the lock throws: the lock does not describe node_modules.
 */
export function runtimeClosure(lock: LockFile, roots: string[]): string[] {
  const packages = lock.packages ?? {};
  const reached = new Set<string>();
  const pending: Array<{ from: string; name: string; optional: boolean }> = roots.map((name) => ({ from: '', name, optional: false }));
  while (pending.length > 0) {
    const { from, name, optional } = pending.pop()!;
    const location = resolveLocation(packages, from, name);
    if (location === undefined) {
      if (optional) continue;
      throw new LockfileError(`${name} (needed by ${from || 'the package'}) is not in package-lock.json; run npm install`);
    }
    if (reached.has(location)) continue;
    reached.add(location);
    const entry = packages[location]!;
    for (const dep of Object.keys(entry.dependencies ?? {})) pending.push({ from: location, name: dep, optional: false });
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) pending.push({ from: location, name: dep, optional: true });
    for (const dep of Object.keys(entry.peerDependencies ?? {})) {
      pending.push({ from: location, name: dep, optional: entry.peerDependenciesMeta?.[dep]?.optional === true });
    }
  }
  return [...reached].sort();
}

/** The version package-lock.json installs for the top-level package `name`. */
export function lockedVersion(lock: LockFile, name: string): string {
  const version = lock.packages?.[`node_modules/${name}`]?.version;
  if (version === undefined) throw new LockfileError(`${name} is not in package-lock.json; run npm install`);
  return version;
}

/**
 * The lockfile of a package named `name`@`version` whose dependencies are `dependencies` (each
 * pinned to its locked version, as the deployed package.json pins them): the root lock's entries for
 * their runtime closure, copied as they are. Entries that were optional only through a dev path stay
 * optional; nothing in the result is marked dev, since nothing dev is in it.
 */
export function productionLockfile(lock: LockFile, manifest: { name: string; version: string; dependencies: Record<string, string> }): LockFile {
  const packages = lock.packages ?? {};
  const pruned: Record<string, LockEntry> = {
    '': { name: manifest.name, version: manifest.version, dependencies: { ...manifest.dependencies } },
  };
  for (const location of runtimeClosure(lock, Object.keys(manifest.dependencies))) {
    const { dev: _dev, devOptional, ...entry } = packages[location]!;
    pruned[location] = devOptional === true ? { ...entry, optional: true } : entry;
  }
  return { name: manifest.name, version: manifest.version, lockfileVersion: lock.lockfileVersion ?? 3, requires: true, packages: pruned };
}
