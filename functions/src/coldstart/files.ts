/** The files of each deployed archive, named once for build/bundle.ts, infra/ and the warm-up. */

/**
 * The function's bundle, which functions-framework loads. `.cjs`, so the framework knows it for a
 * CommonJS module without importing its package.json reader (an ES module tree of its own, ~0.1 s
 * of every cold start).
 */
export const ENTRY_FILE = 'index.cjs';
/** The code-cache preload (compileCache.ts via preload.ts), named in NODE_OPTIONS. */
export const PRELOAD_FILE = 'compileCache.js';
/** The warm-up the archive's `gcp-build` script runs (warmup.ts). */
export const WARMUP_FILE = 'warmup.js';
/** The code cache beside the preload, written by the warm-up at build time (never shipped from here). */
export const CACHE_DIR_NAME = '.compile-cache';
