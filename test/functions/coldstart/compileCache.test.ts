import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { CompileCacheStats } from '../../../functions/src/coldstart/compileCache';
import { CACHE_DIR_NAME } from '../../../functions/src/coldstart/files';

const MODULE = path.resolve(__dirname, '../../../functions/src/coldstart/compileCache.ts');

describe('compile cache (functions/src/coldstart/compileCache.ts)', function () {
  this.timeout(60_000);
  let dir: string;

  /**
   * Loads `a.js` in a process of its own (as an instance would: V8 keeps compiled code within a
   * process whatever the cache says) with the cache installed, recording and writing it if asked.
   */
  function load(record: boolean, call?: string): { exports: Record<string, unknown>; stats: CompileCacheStats; written?: { modules: number } } {
    const script = `
      const { installCompileCache } = require(${JSON.stringify(MODULE)});
      const cache = installCompileCache(${JSON.stringify(dir)}, { record: ${record} });
      const loaded = require(${JSON.stringify(path.join(dir, 'a.js'))});
      Promise.resolve(${call === undefined ? 'undefined' : `loaded.${call}()`}).then((called) => {
        const exports = { ...loaded, ...(called === undefined ? {} : { called: called.sep }) };
        delete exports.load;
        const written = ${record} ? cache.write() : undefined;
        process.stdout.write(JSON.stringify({ exports, stats: cache.stats, written }));
      });`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    return JSON.parse(child.stdout) as { exports: Record<string, unknown>; stats: CompileCacheStats; written?: { modules: number } };
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'compile-cache-'));
    writeFileSync(
      path.join(dir, 'a.js'),
      "exports.dir = __dirname; exports.file = __filename; exports.resolved = require.resolve('./b'); exports.b = require('./b').value; exports.isModule = module.exports === exports;\n",
    );
    writeFileSync(path.join(dir, 'b.js'), "exports.value = 'first';\n");
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the modules it recorded from their cached code, with require, module and __dirname as Node gives them', () => {
    const first = load(true);
    assert.deepEqual(first.stats, { hits: 0, misses: 2, rejected: 0 });
    assert.equal(first.written?.modules, 2);
    const second = load(false);
    assert.deepEqual(second.stats, { hits: 2, misses: 0, rejected: 0 });
    assert.deepEqual(second.exports, { dir, file: path.join(dir, 'a.js'), resolved: path.join(dir, 'b.js'), b: 'first', isModule: true });
  });

  it('runs the new code of a module edited to the same length, not the cached one', () => {
    load(true);
    writeFileSync(path.join(dir, 'b.js'), "exports.value = 'other';\n");
    const after = load(false);
    assert.equal(after.exports.b, 'other');
    assert.deepEqual(after.stats, { hits: 1, misses: 1, rejected: 0 });
  });

  it('compiles from source a module whose cached code V8 refuses', () => {
    load(true);
    const cacheDir = path.join(dir, CACHE_DIR_NAME);
    for (const file of readdirSync(cacheDir)) writeFileSync(path.join(cacheDir, file), Buffer.alloc(64, 7));
    const after = load(false);
    assert.equal(after.exports.b, 'first');
    assert.deepEqual(after.stats, { hits: 0, misses: 0, rejected: 2 });
  });

  it('leaves a module that calls import() to Node, and its import() works', () => {
    writeFileSync(path.join(dir, 'a.js'), "exports.load = () => import('node:path');\n");
    const first = load(true, 'load');
    assert.deepEqual(first.stats, { hits: 0, misses: 0, rejected: 0 });
    assert.equal(first.written?.modules, 0);
    assert.equal(load(false, 'load').exports.called, path.sep);
  });
});
