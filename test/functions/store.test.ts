import assert from 'node:assert/strict';
import { Firestore } from '@google-cloud/firestore';
import { startFirestoreEmulator, type FirestoreEmulator } from '../../emulator/firestore';
import { parseConfig } from '../../functions/src/config';
import { recordDeadLetter, scrape } from '../../functions/src/scrape';
import { articleBatching, firestoreStore, queuedArticle, type ArticleRecord, type ArticleStore } from '../../functions/src/store';
import { FetchError } from '../../functions/src/fetch/types';
import { HostBackoff } from '../../functions/src/retry';
import { article, page, pushBody, recordingRequeue, scriptedFetch, urlMessage } from './fakes';

process.env.METADATA_SERVER_DETECTION ??= 'none';

describe('firestoreStore (embedded Firestore emulator)', () => {
  let emulator: FirestoreEmulator;
  let firestore: Firestore;
  let store: ArticleStore;
  let prefix = '';
  let run = 0;
  const now = new Date('2026-02-01T10:00:00Z');

  before(async () => {
    emulator = await startFirestoreEmulator({ kind: 'embedded' });
    firestore = new Firestore({ projectId: 'store-test', host: emulator.host, ssl: false, ignoreUndefinedProperties: true });
  });

  after(async () => {
    await firestore?.terminate();
    await emulator?.stop();
  });

  beforeEach(() => {
    prefix = `t${++run}_`;
    store = firestoreStore(firestore, prefix);
  });

  it('writes through a transaction and reads articles back in the order asked, null where absent', async () => {
    const a = urlMessage('https://example.com/a');
    const b = urlMessage('https://example.com/b');
    for (const item of [a, b]) await store.updateArticle(item.urlKey, (current) => ({ next: current ?? queuedArticle(item, now), result: null }));
    const seen = await store.updateArticle(a.urlKey, (current) => ({ next: current && { ...current, status: 'done', title: 'Done' }, result: current?.status }));
    assert.equal(seen, 'queued');
    const [storedB, missing, storedA] = await store.getArticles([b.urlKey, 'f'.repeat(64), a.urlKey]);
    assert.equal(storedA?.status, 'done');
    assert.equal(storedA?.title, 'Done');
    assert.equal(storedB?.status, 'queued');
    assert.equal(storedB?.canonicalUrl, 'https://example.com/b');
    assert.equal(storedB?.createdAt.toISOString(), now.toISOString());
    assert.equal(missing, null);
    assert.equal((await firestore.collection(`${prefix}articles`).doc(b.urlKey).get()).get('status'), 'queued');
  });

  it('stores portfolios and reads them back', async () => {
    const id = store.newPortfolioId();
    await store.createPortfolio({ portfolioId: id, name: 'Mine', createdAt: now, urls: ['https://example.com/a'], urlKeys: ['k'] });
    const portfolio = await store.getPortfolio(id);
    assert.deepEqual(portfolio, { portfolioId: id, name: 'Mine', createdAt: now, urls: ['https://example.com/a'], urlKeys: ['k'] });
    await store.setPortfolioUrls(id, [], []);
    assert.deepEqual((await store.getPortfolio(id))?.urls, []);
    assert.equal(await store.getPortfolio('nope'), null);
  });

  it('keeps a scraped article, and one that used up its fetches with its cause, through a Firestore round trip', async () => {
    const done = urlMessage('https://example.com/done');
    const dead = urlMessage('https://example.com/dead');
    const failing = Array.from({ length: 5 }, () => new FetchError('http-500', 'The site answered 500.', true));
    const fetch = scriptedFetch(page(done.canonicalUrl), ...failing);
    const { requeue } = recordingRequeue();
    const hosts = new HostBackoff({ baseMs: 1000, maxMs: 60_000, forgetAfterMs: 60_000 });
    const deps = { fetchPage: fetch.fetchPage, extract: () => article('Stored title'), store, now: () => now, config: parseConfig({}), requeue, hosts };
    assert.equal((await scrape(pushBody(done), deps)).kind, 'done');
    for (let attempt = 1; attempt < 5; attempt++) assert.equal((await scrape(pushBody(dead, { messageId: 'm-2' }), deps)).kind, 'retry');
    assert.equal((await scrape(pushBody(dead, { messageId: 'm-2' }), deps)).kind, 'failed');
    const late = await recordDeadLetter(pushBody(dead, { attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '5' } }), deps);
    assert.equal(late.kind, 'skipped');

    const storedDone = await store.getArticle(done.urlKey);
    assert.equal(storedDone?.status, 'done');
    assert.equal(storedDone?.title, 'Stored title');
    assert.deepEqual(storedDone?.outline, ['One', 'Two']);
    assert.equal(storedDone?.scrapedAt?.toISOString(), now.toISOString());
    const storedDead = await store.getArticle(dead.urlKey);
    assert.equal(storedDead?.status, 'failed');
    assert.equal(storedDead?.attempts, 5);
    assert.equal(storedDead?.fetches, 5);
    assert.equal(storedDead?.lastError?.code, 'dead-lettered');
    assert.equal(storedDead?.lastError?.cause?.code, 'http-500');
    assert.equal(storedDead?.lastError?.cause?.at.toISOString(), now.toISOString());
  });

  it('gives each fetch number of an article to exactly one of many concurrent claims, and says who holds it', async () => {
    const key = urlMessage('https://example.com/leased').urlKey;
    const until = new Date(now.getTime() + 60_000);
    const claims = await Promise.all(Array.from({ length: 20 }, (_, index) => store.claimFetch(key, 1, { messageId: `m-${index}`, until })));
    const winners = claims.flatMap((claim, index) => (claim.claimed ? [index] : []));
    assert.equal(winners.length, 1, `${winners.length} claims of fetch 1 succeeded`);
    for (const claim of claims) {
      if (!claim.claimed) {
        assert.equal(claim.holder.messageId, `m-${winners[0]}`);
        assert.equal(claim.holder.until.toISOString(), until.toISOString());
      }
    }
    assert.deepEqual(await store.claimFetch(key, 2, { messageId: 'm-x', until }), { claimed: true });
  });

  it('serves concurrent reads and writes of many articles in shared RPCs, each caller with its own result', async () => {
    const items = Array.from({ length: 60 }, (_, index) => urlMessage(`https://example.com/many/${index}`));
    const record = (item: (typeof items)[number], title: string): ArticleRecord => ({ ...queuedArticle(item, now), status: 'done', title });
    // The first two are written twice in the same burst: the later write wins, as two sets in a row.
    await Promise.all([...items.map((item) => store.putArticle(item.urlKey, record(item, `first ${item.url}`))), ...items.slice(0, 2).map((item) => store.putArticle(item.urlKey, record(item, 'second')))]);

    let getAllCalls = 0;
    const getAll = firestore.getAll.bind(firestore);
    firestore.getAll = (...args: Parameters<Firestore['getAll']>) => {
      getAllCalls += 1;
      return getAll(...args);
    };
    try {
      const missing = 'f'.repeat(64);
      const read = await Promise.all([...items.map((item) => store.getArticle(item.urlKey)), store.getArticle(missing), store.getArticle(items[5]?.urlKey ?? '')]);
      assert.deepEqual(
        read.slice(0, 60).map((article) => article?.title),
        items.map((item, index) => (index < 2 ? 'second' : `first ${item.url}`)),
      );
      assert.deepEqual(
        read.slice(0, 60).map((article) => article?.urlKey),
        items.map((item) => item.urlKey),
      );
      assert.equal(read[60], null);
      assert.equal(read[61]?.title, `first ${items[5]?.url}`);
      assert.ok(getAllCalls < read.length / 2, `62 concurrent reads took ${getAllCalls} getAll calls`);
    } finally {
      firestore.getAll = getAll;
    }
  });

  it('notes the waits of many parked articles in shared commits, no transaction, never changing a status', async () => {
    const items = Array.from({ length: 40 }, (_, index) => urlMessage(`https://example.com/parked/${index}`));
    const done = items[0]!;
    const queued = items[1]!;
    await store.putArticle(done.urlKey, { ...queuedArticle(done, now), status: 'done', title: 'Done' });
    await store.putArticle(queued.urlKey, { ...queuedArticle(queued, now), attempts: 2 });
    const until = new Date('2026-02-01T10:04:00Z');
    let transactions = 0;
    let batches = 0;
    const [runTransaction, batch] = [firestore.runTransaction.bind(firestore), firestore.batch.bind(firestore)];
    firestore.runTransaction = ((...args: Parameters<Firestore['runTransaction']>) => {
      transactions += 1;
      return runTransaction(...args);
    }) as Firestore['runTransaction'];
    firestore.batch = () => {
      batches += 1;
      return batch();
    };
    let noted: boolean[];
    try {
      const wait = { until, waitingFor: 'example.com', at: now };
      // The first two exist (as the reads before parking saw them); the others have no document yet.
      noted = await Promise.all(items.map((item, index) => store.noteWait(item.urlKey, wait, index < 2 ? null : queuedArticle(item, now))));
    } finally {
      firestore.runTransaction = runTransaction;
      firestore.batch = batch;
    }
    assert.deepEqual(noted, items.map(() => true));
    assert.equal(transactions, 0);
    assert.ok(batches <= items.length / 4, `40 notes took ${batches} commits`);
    const stored = await store.getArticles(items.map((item) => item.urlKey));
    // A done article keeps its status and data (the views show a wait only on a queued article).
    assert.equal(stored[0]?.status, 'done');
    assert.equal(stored[0]?.title, 'Done');
    assert.equal(stored[1]?.status, 'queued');
    assert.equal(stored[1]?.attempts, 2);
    for (const article of stored.slice(1)) {
      assert.equal(article?.nextAttemptAt?.toISOString(), until.toISOString());
      assert.equal(article?.waitingFor, 'example.com');
    }
    assert.equal(stored[5]?.status, 'queued');
    assert.equal(stored[5]?.canonicalUrl, items[5]?.canonicalUrl);
    // A note that finds the document changed since it was read (created meanwhile, or gone) is dropped.
    const late = await store.noteWait(queued.urlKey, { until: new Date('2026-02-01T11:00:00Z'), waitingFor: 'page', at: now }, queuedArticle(queued, now));
    assert.equal(late, false);
    assert.equal((await store.getArticle(queued.urlKey))?.attempts, 2);
    assert.equal(await store.noteWait('e'.repeat(64), { until, waitingFor: 'page', at: now }, null), false);
  });

  it('fails only the write Firestore refuses when it shares a commit with others', async () => {
    const count = articleBatching.writes.maxInFlight + 5;
    const items = Array.from({ length: count }, (_, index) => urlMessage(`https://example.com/shared/${index}`));
    class NotStorable {}
    // The last write carries a value Firestore cannot store; it queues behind the first ones and so
    // shares its commit with the writes queued with it.
    const writes = items.map((item, index) => {
      const title = index === count - 1 ? (new NotStorable() as unknown as string) : `title ${index}`;
      return store.putArticle(item.urlKey, { ...queuedArticle(item, now), status: 'done', title });
    });
    const results = await Promise.allSettled(writes);
    assert.deepEqual(
      results.map((result) => result.status),
      items.map((_, index) => (index === count - 1 ? 'rejected' : 'fulfilled')),
    );
    const stored = await store.getArticles(items.map((item) => item.urlKey));
    assert.deepEqual(
      stored.map((article) => article?.title ?? null),
      items.map((_, index) => (index === count - 1 ? null : `title ${index}`)),
    );
  });
});
