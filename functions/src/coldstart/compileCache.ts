/**
 * A V8 code cache for every CommonJS module an instance loads — functions-framework, express and the
 * function's bundle — so a cold start reads compiled code instead of parsing and compiling ~5 MB of
 * JavaScript. Preloaded before functions-framework (`NODE_OPTIONS=--require <app>/compileCache.js`,
 * set by infra/); the cache is written at build time by warmup.ts, into `.compile-cache/` beside this
 * file, by the same Node.js that serves (Cloud Build runs the archive's `gcp-build` script).
 *
 * A module whose cache is absent or rejected (another Node.js, other V8 flags, a changed file) is
 * compiled as Node would compile it; nothing here can keep an instance from starting.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { CACHE_DIR_NAME } from './files';

/** What the cache did in this process, for the warm-up's report and the tests. */
export interface CompileCacheStats {
  /** Modules whose cached code V8 accepted. */
  hits: number;
  /** Modules compiled from source: no cache entry. */
  misses: number;
  /** Modules whose cache entry V8 refused (another V8 version or flags): compiled from source. */
  rejected: number;
}

/** What Node's own `Module.prototype._compile` is, as far as it is used here. */
type Compile = (this: NodeModule, content: string, filename: string, ...more: unknown[]) => unknown;

interface ModuleInternals {
  wrap(script: string): string;
  _resolveFilename(request: string, parent: NodeModule, isMain: boolean, options?: { paths?: string[] }): string;
  _resolveLookupPaths(request: string, parent: NodeModule): string[] | null;
  _extensions: NodeJS.RequireExtensions;
  _cache: NodeJS.Dict<NodeModule>;
  prototype: { _compile: Compile };
}

const ModuleImpl = Module as unknown as ModuleInternals;

/**
 * The cache entry's file name: a hash of the module's path and of its source. V8 checks
 * only the source's length against cached code, so the hash is what keeps an edited file of the same
 * length from running stale code.
 */
export function cacheKey(filename: string, source: string): string {
  return createHash('sha1').update(filename).update('\0').update(source).digest('hex');
}

/** `require` inside a module, as Node makes it (resolve, resolve.paths, main, extensions, cache). */
function requireFor(module: NodeModule): NodeJS.Require {
  const require = ((id: string) => module.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: { paths?: string[] }) => ModuleImpl._resolveFilename(request, module, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => ModuleImpl._resolveLookupPaths(request, module);
  require.resolve = resolve;
  require.main = require.main ?? process.mainModule;
  require.extensions = ModuleImpl._extensions;
  require.cache = ModuleImpl._cache;
  return require;
}

/**
 * Code that may call `import()` is left to Node: on Node 20, a script whose code came from a cache
 * written by another process fails every dynamic import (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING),
 * whatever `importModuleDynamically` says. (functions-framework's loader is one such module; the
 * bundles have none: build/bundle.ts turns theirs into `require`.)
 */
const DYNAMIC_IMPORT = /\bimport\s*\(/;

/** Dynamic `import()` inside a module compiled here behaves as in one Node compiled (Node ≥ 20.12). */
const IMPORT_AS_NODE_DOES = (vm.constants as Partial<typeof vm.constants> | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER;

/**
 * Installs the cache, kept in `<appRoot>/CACHE_DIR_NAME`, for every CommonJS module loaded from now on
 * (in the deployed image they all lie under the app: node_modules is inside it). With `record`, keeps
 * every module compiled from source so that {@link CompileCache.write} can store its code — after
 * the warm-up ran it, so that functions compiled lazily on the way are in the cache too.
 */
export function installCompileCache(appRoot: string, options: { record?: boolean } = {}): CompileCache {
  const cacheDir = path.join(appRoot, CACHE_DIR_NAME);
  const stats: CompileCacheStats = { hits: 0, misses: 0, rejected: 0 };
  const recorded: { file: string; script: vm.Script }[] = [];
  const nodeCompile = ModuleImpl.prototype._compile;

  ModuleImpl.prototype._compile = function compileWithCache(this: NodeModule, content: string, filename: string, ...more: unknown[]): unknown {
    // Node 22 passes the format it found ('module' for ES syntax it loads through require): only
    // CommonJS is compiled here, everything else as Node would (with whatever else it passed).
    const format = more[0];
    if ((format !== undefined && format !== 'commonjs') || !(filename.endsWith('.js') || filename.endsWith('.cjs')) || DYNAMIC_IMPORT.test(content)) {
      return nodeCompile.call(this, content, filename, ...more);
    }
    let script: vm.Script;
    let file: string;
    let hit = false;
    try {
      file = path.join(cacheDir, cacheKey(filename, content));
      let cachedData: Buffer | undefined;
      try {
        cachedData = readFileSync(file);
      } catch {
        cachedData = undefined;
      }
      script = new vm.Script(ModuleImpl.wrap(content), {
        filename,
        cachedData,
        ...(IMPORT_AS_NODE_DOES === undefined ? {} : { importModuleDynamically: IMPORT_AS_NODE_DOES }),
      });
      if (cachedData === undefined) stats.misses += 1;
      else if (script.cachedDataRejected === true) stats.rejected += 1;
      else {
        stats.hits += 1;
        hit = true;
      }
    } catch {
      // Whatever vm refuses (ES syntax Node 22 detects and loads as a module; errors Node reports better), Node compiles.
      return nodeCompile.call(this, content, filename, ...more);
    }
    if (options.record === true && !hit) recorded.push({ file, script });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, requireFor(this), this, filename, path.dirname(filename));
  };

  return {
    stats,
    write() {
      mkdirSync(cacheDir, { recursive: true });
      let bytes = 0;
      for (const { file, script } of recorded) {
        const data = script.createCachedData();
        writeFileSync(file, data);
        bytes += data.length;
      }
      return { modules: recorded.length, bytes };
    },
    uninstall() {
      ModuleImpl.prototype._compile = nodeCompile;
    },
  };
}

/** An installed cache. */
export interface CompileCache {
  stats: CompileCacheStats;
  /** Stores the code of every recorded module (see `record`); returns how much was written. */
  write(): { modules: number; bytes: number };
  /** Puts Node's own compile back. */
  uninstall(): void;
}
