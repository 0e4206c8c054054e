import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { bundleFunctions, DEPLOYED_TARGETS, type BundleManifest } from '../../build/bundle';
import { CACHE_DIR_NAME, ENTRY_FILE, PRELOAD_FILE, WARMUP_FILE } from '../../functions/src/coldstart/files';
import { startEmulators, type RunningEmulators } from '../../emulator';
import { collections, topology } from '../../functions/src/topology';
import { canonicalizeUrl } from '../../functions/src/urls';
import { runtimeClosure, type LockFile } from '../../infra/lockfile';
import { checkBundledVersions, prepareSource } from '../../infra/source';
import { startArticleSite, type ArticleSite } from '../helpers/articleSite';
import { coldStart, emulatedFunctionEnv } from '../helpers/coldStart';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const ROOT = path.resolve(__dirname, '../..');
// Inside the repository, so that the bundles' one external (functions-framework) resolves from
// node_modules as it does from the deployed archive's own node_modules.
const BUILD = path.join(ROOT, '.build', `test-bundles-${process.pid}`);

describe('deploy bundles (build/bundle.ts): what each function deploys', function () {
  this.timeout(120_000);
  let manifests: Map<string, BundleManifest>;
  let lock: LockFile;
  let rootPackage: { dependencies: Record<string, string> };

  before(async () => {
    manifests = new Map((await bundleFunctions(path.join(BUILD, 'deploy'))).map((manifest) => [manifest.target, manifest]));
    lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as LockFile;
    rootPackage = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  });
  after(() => rmSync(BUILD, { recursive: true, force: true }));

  it('carries proto-loader with its descriptors made on first read (build/lazyProtoDescriptors.ts)', () => {
    for (const target of DEPLOYED_TARGETS) {
      const bundle = readFileSync(path.join(BUILD, 'deploy', target, ENTRY_FILE), 'utf8');
      assert.match(bundle, /function lazyDescriptors\(/, target);
      // The package's eager form, as esbuild writes it: `let bufferList=root.toDescriptor("proto3").file.map(…)`.
      assert.doesNotMatch(bundle, /bufferList\s*=\s*\w+\.toDescriptor\("proto3"\)\.file/, target);
    }
  });

  it('inlines only locked runtime packages, each function only what it uses, and installs only functions-framework', () => {
    const has = (target: string, location: string): boolean => location in (manifests.get(target)?.bundled ?? {});
    for (const target of DEPLOYED_TARGETS) {
      const manifest = manifests.get(target)!;
      assert.doesNotThrow(() => checkBundledVersions(manifest.bundled, lock), target);
      // functions-framework, and what of ours it loads anyway from node_modules: never a second copy.
      const frameworkTree = new Set(runtimeClosure(lock, ['@google-cloud/functions-framework']));
      const shared = Object.keys(rootPackage.dependencies).filter((name) => frameworkTree.has(`node_modules/${name}`));
      assert.deepEqual([...manifest.external].sort(), shared.sort());
      for (const name of manifest.external) assert.ok(!has(target, `node_modules/${name}`), `${target} must not inline ${name}`);
      assert.ok(has(target, 'node_modules/@google-cloud/firestore'), `${target} uses Firestore`);
      assert.ok(!has(target, 'node_modules/@google-cloud/functions-framework'), `${target} must not inline functions-framework`);
      assert.doesNotThrow(() => prepareSource(ROOT, BUILD, target));
    }
    assert.ok(has('api', 'node_modules/@google-cloud/pubsub'));
    assert.ok(!has('api', 'node_modules/undici') && !has('api', 'node_modules/cheerio'), 'the API neither fetches nor extracts');
    assert.ok(has('scrapeArticle', 'node_modules/undici') && has('scrapeArticle', 'node_modules/cheerio'));
    // The scraper publishes a feed's articles and parks messages that must wait on the delay topic, the
    // recorder re-queues; each loads the client on its first publish, so a cold start does not pay for it.
    assert.ok(has('scrapeArticle', 'node_modules/@google-cloud/pubsub'), 'the scraper parks messages that must wait');
    assert.ok(has('recordDeadLetter', 'node_modules/@google-cloud/pubsub'), 'the recorder re-queues');
    for (const absent of ['node_modules/undici', 'node_modules/cheerio']) {
      assert.ok(!has('recordDeadLetter', absent), `the recorder does not load ${absent}`);
    }
  });

  describe('each bundle serves its first request under functions-framework, against the emulators', () => {
    let emulators: RunningEmulators;
    let site: ArticleSite;
    let firestore: Firestore;
    const projectId = 'bundle-test';
    const prefix = `bundle${Date.now()}-`;
    let env: Record<string, string>;

    before(async () => {
      emulators = await startEmulators({ choice: 'embedded' });
      site = await startArticleSite();
      const pubsub = new PubSub({ projectId, apiEndpoint: emulators.hosts.pubsub, emulatorMode: true });
      await pubsub.createTopic(topology.topic);
      await pubsub.close();
      firestore = new Firestore({ projectId, host: emulators.hosts.firestore, ssl: false });
      env = emulatedFunctionEnv({ projectId, hosts: emulators.hosts, sitePort: new URL(site.origin).port, collectionPrefix: prefix });
    });
    after(async () => {
      await firestore?.terminate();
      await site?.stop();
      await emulators?.stop();
    });

    const envelope = (data: unknown, attributes: Record<string, string> = {}): string =>
      JSON.stringify({ subscription: 'projects/p/subscriptions/s', message: { data: Buffer.from(JSON.stringify(data)).toString('base64'), attributes, messageId: '1', publishTime: new Date().toISOString() } });

    it('runs the archive\'s gcp-build, which writes a code cache of what a cold start loads, without a backend', async () => {
      for (const target of DEPLOYED_TARGETS) {
        const assets = (await prepareSource(ROOT, BUILD, target).archive.assets) as Record<string, { text?: Promise<string> }>;
        const manifest = JSON.parse((await assets['package.json']!.text)!) as { scripts: Record<string, string> };
        assert.equal(manifest.scripts['gcp-build'], `node ${WARMUP_FILE} ${target}`);
        assert.ok(assets[PRELOAD_FILE] && assets[WARMUP_FILE], `${target}'s archive carries the preload and the warm-up`);
        // As Cloud Build runs it: in the app's directory, with no emulator or project in the environment.
        const [command, ...args] = manifest.scripts['gcp-build'].split(' ');
        const build = spawnSync(command === 'node' ? process.execPath : command!, args, { cwd: path.join(BUILD, 'deploy', target), encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 });
        assert.equal(build.status, 0, build.stderr);
        assert.match(build.stdout, /^compile cache written: /, build.stdout);
        const written = /"written":\{"modules":(\d+)/.exec(build.stdout);
        assert.ok(written && Number(written[1]) > 50, `${target}: ${build.stdout}`);
        assert.equal(readdirSync(path.join(BUILD, 'deploy', target, CACHE_DIR_NAME)).length, Number(written[1]));
      }
    });

    it('with the cache preloaded as infra sets NODE_OPTIONS: api accepts a portfolio; scrapeArticle scrapes and stores a page; recordDeadLetter marks one failed', async () => {
      const bundle = (target: string): string => path.join(BUILD, 'deploy', target, ENTRY_FILE);
      const deployed = (target: string): Record<string, string> => ({ ...env, NODE_OPTIONS: `--require=${path.join(BUILD, 'deploy', target, PRELOAD_FILE)}` });
      await coldStart({ source: bundle('api'), target: 'api', env: deployed('api'), request: { path: '/portfolios', body: JSON.stringify({ urls: [site.url('articles', 1)] }), expectStatus: 202 } });
      const portfolios = await firestore.collection(`${prefix}${collections.portfolios}`).get();
      assert.equal(portfolios.size, 1);

      const message = (n: number) => {
        const canonical = canonicalizeUrl(site.url('articles', n));
        assert.ok(canonical.ok);
        return { url: site.url('articles', n), canonicalUrl: canonical.canonicalUrl, urlKey: canonical.urlKey, portfolioId: 'p1' };
      };
      const scraped = message(2);
      await coldStart({ source: bundle('scrapeArticle'), target: 'scrapeArticle', env: deployed('scrapeArticle'), request: { path: '/', body: envelope(scraped), expectStatus: 204 } });
      const article = (await firestore.collection(`${prefix}${collections.articles}`).doc(scraped.urlKey).get()).data();
      assert.equal(article?.status, 'done');
      assert.equal(article?.title, site.expected(2).title);

      // Its page was fetched as often as a round allows (else the recorder would re-queue it).
      const dead = message(3);
      await firestore.collection(`${prefix}${collections.articles}`).doc(dead.urlKey).set({ ...dead, status: 'queued', attempts: 5, fetches: 5, lastError: { code: 'http-500', message: 'The site answered 500.', at: new Date() } });
      await coldStart({
        source: bundle('recordDeadLetter'),
        target: 'recordDeadLetter',
        env: deployed('recordDeadLetter'),
        request: { path: '/', body: envelope(dead, { CloudPubSubDeadLetterSourceDeliveryCount: '5' }), expectStatus: 204 },
      });
      const failed = (await firestore.collection(`${prefix}${collections.articles}`).doc(dead.urlKey).get()).data();
      assert.equal(failed?.status, 'failed');
      assert.equal(failed?.lastError?.code, 'dead-lettered');
    });
  });
});
