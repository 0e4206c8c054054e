/**
 * The deployed archive's `compileCache.js`, preloaded by Node before functions-framework
 * (`NODE_OPTIONS=--require …/compileCache.js`): serves every module from the code cache beside it. In
 * the warm-up's process it records instead, and writes the cache when the warm-up sends SIGTERM.
 */
import { compileCacheMode } from '../config';
import { jsonLineLogger } from '../log';
import { installCompileCache } from './compileCache';

/** When the instance has loaded what a cold start loads: then a cache that did not serve is worth a warning. */
const REPORT_AFTER_MS = 10_000;

const mode = compileCacheMode();
const cache = installCompileCache(__dirname, { record: mode === 'write' });

if (mode === 'write') {
  process.once('SIGTERM', () => {
    const written = cache.write();
    process.stderr.write(`${JSON.stringify({ compileCache: { ...cache.stats, written } })}\n`);
    process.exit(0);
  });
} else {
  setTimeout(() => {
    const { hits, misses, rejected } = cache.stats;
    if (rejected === 0 && misses <= hits) return;
    jsonLineLogger()({
      severity: 'WARNING',
      message: `The compile cache served ${hits} of ${hits + misses + rejected} modules (${rejected} refused by this Node.js, ${misses} not in it): cold starts compile the rest from source. It is written at build time by warmup.js; check the build log.`,
      code: 'compile-cache-miss',
      ...cache.stats,
    });
  }, REPORT_AFTER_MS).unref();
}
