import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { hashTree, productionPackageJson } from '../../infra/source';
import { FakeBuild } from './mocks';

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
