import assert from 'node:assert/strict';
import { FetchError } from '../../functions/src/fetch/types';
import { completeFailed, decodePushEnvelope, MalformedMessageError, recordDeadLetter, recordRetry, scrape, type ScrapeDeps } from '../../functions/src/scrape';
import { parseConfig } from '../../functions/src/config';
import { HostBackoff } from '../../functions/src/retry';
import { queuedArticle } from '../../functions/src/store';
import { article, delivery, grpcError, MemoryStore, page, pushBody, recordingRequeue, scriptedFetch, urlMessage } from './fakes';

const URL_A = 'https://example.com/a';
const PUBLISHED = new Date('2026-01-01T00:00:00Z');

function setup(script: Parameters<typeof scriptedFetch>, start = new Date('2026-01-01T00:00:10Z')) {
  const store = new MemoryStore();
  const fetch = scriptedFetch(...script);
  let clock = start.getTime();
  const queue = recordingRequeue();
  const config = parseConfig({});
  const deps: ScrapeDeps = {
    fetchPage: fetch.fetchPage,
    extract: (_html, pageUrl) => article(`Title of ${pageUrl}`),
    store,
    now: () => new Date(clock),
    config,
    requeue: queue.requeue,
    hosts: new HostBackoff({ baseMs: config.retry.hostBackoffBaseMs, maxMs: config.retry.retryAfterMaxMs, forgetAfterMs: config.retry.retryAfterMaxMs * 2 }),
    // A duplicate delivery's wait passes on the fake clock.
    sleep: async (ms) => void (clock += ms),
  };
  const message = urlMessage(URL_A);
  store.articles.set(message.urlKey, queuedArticle(message, new Date(clock)));
  return { store, fetch, deps, message, queue, advance: (ms: number) => (clock += ms) };
}

describe('decodePushEnvelope', () => {
  it('decodes the push body of the real service and of the emulator', () => {
    const message = urlMessage(URL_A);
    const real = decodePushEnvelope(pushBody(message, { deliveryAttempt: 3, attributes: { urlKey: message.urlKey } }));
    assert.deepEqual(real.message, message);
    assert.equal(real.deliveryAttempt, 3);
    assert.equal(real.publishTime?.toISOString(), '2026-01-01T00:00:00.000Z');
    const emulator = { message: { data: Buffer.from(JSON.stringify(message)).toString('base64'), message_id: '42', publish_time: '2026-01-01T00:00:00Z' } };
    const decoded = decodePushEnvelope(Buffer.from(JSON.stringify(emulator)));
    assert.equal(decoded.messageId, '42');
    assert.equal(decoded.deliveryAttempt, null);
  });

  it('says what is wrong with a malformed delivery', () => {
    const message = urlMessage(URL_A);
    const cases: [unknown, RegExp][] = [
      [undefined, /no "message"/],
      ['{not json', /not JSON/],
      [{ message: { messageId: '1', data: '!!!' } }, /base64-encoded JSON/],
      [pushBody({ ...message, canonicalUrl: undefined }), /"canonicalUrl"/],
      [pushBody({ ...message, urlKey: 'f'.repeat(64) }), /does not match/],
      [{ message: { data: pushBody(message).message } }, /messageId/],
    ];
    for (const [body, pattern] of cases) {
      assert.throws(() => decodePushEnvelope(body), (error: unknown) => error instanceof MalformedMessageError && pattern.test(error.message));
    }
  });
});

describe('scrape', () => {
  it('fetches, extracts and records a done article', async () => {
    const { store, deps, fetch, message } = setup([page(URL_A)]);
    const outcome = await scrape(pushBody(message), deps);
    assert.equal(outcome.kind, 'done');
    assert.deepEqual(fetch.calls, [URL_A]);
    const stored = store.articles.get(message.urlKey);
    assert.equal(stored?.status, 'done');
    assert.equal(stored?.title, `Title of ${URL_A}`);
    assert.deepEqual(stored?.outline, ['One', 'Two']);
    assert.equal(stored?.readingTimeMinutes, 3);
    assert.equal(stored?.finalUrl, URL_A);
    assert.equal(stored?.attempts, 1);
    assert.equal(stored?.lastError, null);
  });

  it('records a permanent failure once and acks it', async () => {
    const { store, deps, message } = setup([new FetchError('http-404', 'The page answered 404 Not Found.', false)]);
    const outcome = await scrape(pushBody(message), deps);
    assert.equal(outcome.kind, 'failed');
    const stored = store.articles.get(message.urlKey);
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.attempts, 1);
    assert.equal(stored?.lastError?.code, 'http-404');
  });

  it('asks for a retry on a transient failure, keeps the article queued and counts the fetch', async () => {
    const { store, deps, message } = setup([new FetchError('http-503', 'The site answered 503.', true), new FetchError('timeout', 'Timed out.', true), page(URL_A)]);
    const first = await scrape(pushBody(message), deps);
    assert.equal(first.kind, 'retry');
    assert.equal(first.kind === 'retry' && first.httpStatus, 503);
    assert.equal(store.articles.get(message.urlKey)?.status, 'queued');
    assert.equal(store.articles.get(message.urlKey)?.lastError?.code, 'http-503');
    assert.equal((await scrape(pushBody(message), deps)).kind, 'retry');
    const third = await scrape(pushBody(message), deps);
    assert.equal(third.kind, 'done');
    assert.equal(store.articles.get(message.urlKey)?.attempts, 3);
  });

  it('ends the round failed after maxDeliveryAttempts fetches of its own, with the last error as the cause', async () => {
    const { store, deps, fetch, message } = setup(Array.from({ length: 5 }, () => new FetchError('http-500', 'The site answered 500.', true)));
    const kinds = [];
    for (let delivery = 0; delivery < 5; delivery++) kinds.push((await scrape(pushBody(message, { messageId: `m-${delivery % 2}` }), deps)).kind);
    assert.deepEqual(kinds, ['retry', 'retry', 'retry', 'retry', 'failed']);
    const stored = store.articles.get(message.urlKey);
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.attempts, 5);
    assert.equal(stored?.lastError?.code, 'dead-lettered');
    assert.equal(stored?.lastError?.cause?.code, 'http-500');
    // A re-queued copy arriving afterwards fetches nothing.
    assert.equal((await scrape(pushBody(message, { messageId: 'm-9' }), deps)).kind, 'skipped');
    assert.equal(fetch.calls.length, 5);
  });

  it('retries a page our own per-host queue could not start (host-busy) with 429, so Pub/Sub backs off', async () => {
    const { store, deps, message } = setup([new FetchError('host-busy', 'No slot for example.com came free within 20000 ms.', true)]);
    const outcome = await scrape(pushBody(message), deps);
    assert.equal(outcome.kind, 'retry');
    assert.equal(outcome.kind === 'retry' && outcome.httpStatus, 429);
    assert.equal(outcome.kind === 'retry' && outcome.code, 'host-busy');
    const stored = store.articles.get(message.urlKey);
    assert.equal(stored?.status, 'queued');
    assert.equal(stored?.lastError?.code, 'host-busy');
  });

  it('counts fetches, not deliveries: Pub/Sub\'s deliveryAttempt does not add attempts', async () => {
    const { store, deps, message } = setup([new FetchError('timeout', 'Timed out.', true)]);
    await scrape(pushBody(message, { deliveryAttempt: 4 }), deps);
    assert.equal(store.articles.get(message.urlKey)?.attempts, 1);
  });

  it('retries when storage is unavailable, without fetching', async () => {
    const { store, deps, fetch, message } = setup([page(URL_A)]);
    store.failNext(grpcError(14, 'UNAVAILABLE'));
    const outcome = await scrape(pushBody(message), deps);
    assert.equal(outcome.kind, 'retry');
    assert.equal(outcome.kind === 'retry' && outcome.code, 'storage-unavailable');
    assert.deepEqual(fetch.calls, []);
  });

  it('does not fetch again for a duplicate delivery of a message already resolved', async () => {
    const { store, deps, fetch, message } = setup([page(URL_A)]);
    await scrape(pushBody(message, { publishTime: PUBLISHED }), deps);
    const before = structuredClone(store.articles.get(message.urlKey));
    const duplicate = await scrape(pushBody(message, { publishTime: PUBLISHED }), { ...deps, config: parseConfig({ FRESHNESS_WINDOW_HOURS: '0' }) });
    assert.equal(duplicate.kind, 'skipped');
    assert.equal(fetch.calls.length, 1);
    assert.deepEqual(store.articles.get(message.urlKey), before);
  });

  it('does not fetch a done article again within the freshness window, and does after it', async () => {
    const { store, deps, fetch, message, advance } = setup([page(URL_A), page(URL_A)]);
    await scrape(pushBody(message), deps);
    advance(60_000);
    const later = new Date(deps.now().getTime());
    const fresh = await scrape(pushBody(message, { messageId: 'm-2', publishTime: later }), deps);
    assert.equal(fresh.kind === 'skipped' && fresh.reason, 'fresh');
    advance(25 * 3_600_000);
    const stale = await scrape(pushBody(message, { messageId: 'm-3', publishTime: deps.now() }), deps);
    assert.equal(stale.kind, 'done');
    assert.equal(fetch.calls.length, 2);
    assert.equal(store.articles.get(message.urlKey)?.attempts, 1);
  });

  it('never turns a done article into failed, even when a refresh fails', async () => {
    const { store, deps, message, advance } = setup([page(URL_A), new FetchError('http-404', 'Gone.', false), new FetchError('timeout', 'Timed out.', true)]);
    await scrape(pushBody(message), deps);
    advance(25 * 3_600_000);
    const refresh = await scrape(pushBody(message, { messageId: 'm-2', publishTime: deps.now() }), deps);
    assert.equal(refresh.kind === 'skipped' && refresh.reason, 'kept-done');
    // Past the lease of that fetch (a refresh that changed nothing does not move the fetch count on).
    advance(deps.config.retry.fetchLeaseMs);
    const transient = await scrape(pushBody(message, { messageId: 'm-3', publishTime: deps.now() }), deps);
    assert.equal(transient.kind, 'retry');
    const stored = store.articles.get(message.urlKey);
    assert.equal(stored?.status, 'done');
    assert.equal(stored?.title, `Title of ${URL_A}`);
  });

  it('tries a failed article again for a later submission, counting attempts afresh', async () => {
    const { store, deps, message, advance } = setup([new FetchError('http-404', 'Not found.', false), page(URL_A)]);
    await scrape(pushBody(message), deps);
    advance(1000);
    const retried = await scrape(pushBody(message, { messageId: 'm-2', publishTime: deps.now() }), deps);
    assert.equal(retried.kind, 'done');
    assert.equal(store.articles.get(message.urlKey)?.attempts, 1);
  });

  it('lets one fetch serve deliveries of other portfolios that arrive while it runs', async () => {
    const { store, deps, fetch, message } = setup([page(URL_A)]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowDeps: ScrapeDeps = { ...deps, fetchPage: async (url) => (await gate, fetch.fetchPage(url)) };
    const holder = scrape(pushBody(message), slowDeps);
    await new Promise((resolve) => setImmediate(resolve));
    const other = await scrape(pushBody(urlMessage(URL_A, 'p2'), { messageId: 'm-2' }), slowDeps);
    assert.equal(other.kind === 'skipped' && other.reason, 'shared');
    release();
    assert.equal((await holder).kind, 'done');
    assert.deepEqual(fetch.calls, [URL_A]);
    assert.equal(store.articles.get(message.urlKey)?.attempts, 1);
  });

  it('takes the next fetch number when the holder of a lease died, counting its fetch', async () => {
    const { store, deps, fetch, message, advance } = setup([page(URL_A)]);
    store.leases.set(`${message.urlKey}~1`, { messageId: 'p9', until: new Date(deps.now().getTime() + 1000) });
    advance(1000);
    assert.equal((await scrape(pushBody(message), deps)).kind, 'done');
    assert.equal(fetch.calls.length, 1);
    assert.equal(store.articles.get(message.urlKey)?.fetches, 2);
    assert.equal(store.articles.get(message.urlKey)?.attempts, 2, 'the dead holder may have reached the site');
  });

  it('parks a page that answered 503 with Retry-After instead of nacking, and acks other deliveries meanwhile', async () => {
    const { store, deps, fetch, message, queue, advance } = setup([new FetchError('http-503', 'Overloaded.', true, 30_000), page(URL_A)]);
    const first = await scrape(pushBody(message), deps);
    assert.equal(first.kind, 'waiting');
    const stored = store.articles.get(message.urlKey);
    assert.equal(stored?.waitingFor, 'page');
    assert.equal(stored?.nextAttemptAt?.getTime(), deps.now().getTime() + 30_000);
    assert.equal(queue.delayed.length, 1);
    const other = await scrape(pushBody(urlMessage(URL_A, 'p2'), { messageId: 'm-2' }), deps);
    assert.equal(other.kind === 'skipped' && other.reason, 'waiting');
    advance(30_000);
    const back = await scrape(pushBody(message, { messageId: 'm-3', attributes: queue.delayed[0]?.attributes }), deps);
    assert.equal(back.kind, 'done');
    assert.equal(fetch.calls.length, 2);
  });

  it('parks the other pages of a host closed by a 429 without a read or a request, noting each wait on its article', async () => {
    const { store, deps, fetch, message, queue } = setup([new FetchError('http-429', 'Too many requests.', true, 60_000)]);
    assert.equal((await scrape(pushBody(message), deps)).kind, 'waiting');
    let reads = 0;
    const read = store.getArticle.bind(store);
    store.getArticle = async (urlKey) => (reads++, read(urlKey));
    const siblings = ['https://example.com/b', 'https://example.com/c'].map((url) => urlMessage(url, 'p2'));
    const outcomes = await Promise.all(siblings.map((sibling, index) => scrape(pushBody(sibling, { messageId: `m-${index + 2}` }), deps)));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.kind === 'waiting' && outcome.waitingFor),
      ['example.com', 'example.com'],
    );
    assert.equal(fetch.calls.length, 1, 'the host was asked once');
    assert.equal(reads, 0, 'no article was read to park them');
    assert.equal(queue.delayed.length, 3);
    for (const sibling of siblings) {
      const noted = store.articles.get(sibling.urlKey);
      assert.equal(noted?.status, 'queued');
      assert.equal(noted?.waitingFor, 'example.com');
      assert.equal(noted?.nextAttemptAt?.getTime(), deps.now().getTime() + 60_000);
    }
  });

  it('parks a done page of a closed host without touching it; the parked copies of one URL end in one fetch', async () => {
    const { store, deps, fetch, message, queue, advance } = setup([new FetchError('http-429', 'Too many requests.', true, 60_000), page('https://example.com/b')]);
    const done = urlMessage('https://example.com/done');
    const record = { ...queuedArticle(done, PUBLISHED), status: 'done' as const, title: 'Kept', scrapedAt: deps.now(), terminalAt: deps.now() };
    store.articles.set(done.urlKey, record);
    await scrape(pushBody(message), deps);
    const again = await scrape(pushBody(urlMessage(done.url, 'p2'), { messageId: 'm-2', publishTime: deps.now() }), deps);
    assert.equal(again.kind, 'waiting');
    assert.deepEqual(store.articles.get(done.urlKey), record, 'a wait is never noted on a done article');
    // One URL asked for by two portfolios while its host is closed: both park; back from the wait, one fetches.
    const shared = ['p3', 'p4'].map((portfolioId) => urlMessage('https://example.com/b', portfolioId));
    for (const [index, copy] of shared.entries()) assert.equal((await scrape(pushBody(copy, { messageId: `m-${index + 3}` }), deps)).kind, 'waiting');
    advance(60_000);
    const back = [];
    for (const parked of queue.delayed.filter((entry) => entry.message.urlKey !== message.urlKey)) {
      back.push((await scrape(pushBody(parked.message, { messageId: `back-${parked.message.portfolioId}`, attributes: parked.attributes }), deps)).kind);
    }
    assert.deepEqual(back, ['skipped', 'done', 'skipped'], 'the done page stays fresh; the shared URL is fetched once');
    assert.deepEqual(fetch.calls, [URL_A, 'https://example.com/b']);
  });

  it('acks a malformed delivery without touching storage, naming its messageId when it has one', async () => {
    const { deps, fetch } = setup([]);
    const outcome = await scrape({ message: { messageId: '1', data: Buffer.from('hello').toString('base64') } }, deps);
    assert.deepEqual(outcome, { kind: 'malformed', code: 'malformed-message', message: 'The message data is not base64-encoded JSON.', messageId: '1' });
    const anonymous = await scrape({ message: { data: 'e30=' } }, deps);
    assert.equal(anonymous.kind === 'malformed' && anonymous.messageId, undefined);
    assert.deepEqual(fetch.calls, []);
  });
});

describe('failure records racing with other deliveries', () => {
  const published = new Date('2026-01-01T00:00:00Z');
  const later = new Date('2026-01-01T00:00:05Z');
  const resolved = { ...queuedArticle(urlMessage(URL_A), published), status: 'failed' as const, attempts: 1, terminalAt: later, lastError: { code: 'http-404', message: 'Not found.', at: later } };
  const error = { code: 'http-410', message: 'Gone.' };

  it('leaves an article another delivery resolved after this message was published', () => {
    const late = delivery(URL_A, { publishTime: published });
    assert.equal(completeFailed(resolved, late, error, later, 2).next, null);
    assert.equal(recordRetry(resolved, late, error, later, 2).next, null);
  });

  it('starts a new round for a message published after the article failed', () => {
    const resubmitted = delivery(URL_A, { publishTime: new Date('2026-01-01T00:01:00Z') });
    const change = recordRetry({ ...resolved, fetches: 1 }, resubmitted, { code: 'timeout', message: 'Timed out.' }, later, 2);
    assert.equal(change.next?.status, 'queued');
    assert.equal(change.next?.attempts, 1);
    assert.equal(change.next?.lastError?.code, 'timeout');
  });
});

describe('recordDeadLetter', () => {
  const deadLetterAttributes = (count: number) => ({ CloudPubSubDeadLetterSourceDeliveryCount: String(count), CloudPubSubDeadLetterSourceTopicPublishTime: PUBLISHED.toISOString() });

  it('marks the article failed: dead-lettered, with the last error, when its own fetches are used up', async () => {
    const { store, deps, message } = setup([]);
    store.articles.set(message.urlKey, { ...queuedArticle(message, PUBLISHED), attempts: 5, fetches: 5, lastError: { code: 'http-500', message: 'The site answered 500 Internal Server Error.', at: PUBLISHED } });
    const outcome = await recordDeadLetter(pushBody(message, { attributes: deadLetterAttributes(5) }), deps);
    assert.equal(outcome.kind, 'failed');
    const stored = store.articles.get(message.urlKey);
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.attempts, 5);
    assert.equal(stored?.lastError?.code, 'dead-lettered');
    assert.match(stored?.lastError?.message ?? '', /5 fetches; the last error was http-500: The site answered 500/);
    assert.equal(stored?.lastError?.cause?.code, 'http-500');
  });

  it('re-queues, with a delay and bounded, a dead letter whose article shows fewer fetches of its own (our outage)', async () => {
    const { store, deps, message, queue, advance } = setup([]);
    store.articles.set(message.urlKey, { ...queuedArticle(message, PUBLISHED), attempts: 1, fetches: 1, lastError: { code: 'timeout', message: 'Timed out.', at: PUBLISHED } });
    const outcome = await recordDeadLetter(pushBody(message, { messageId: 'dl-1', publishTime: new Date('2026-01-01T00:00:09Z'), attributes: deadLetterAttributes(5) }), deps);
    assert.equal(outcome.kind, 'requeued');
    assert.equal(store.articles.get(message.urlKey)?.status, 'queued');
    const parked = queue.delayed[0];
    assert.equal(parked?.attributes.requeues, '1');
    assert.equal(parked?.attributes.waitingFor, 'pipeline');
    assert.equal(parked?.attributes.submittedAt, PUBLISHED.toISOString(), 'the submission time, not the dead letter\'s');
    assert.equal(parked?.attributes.notBefore, new Date(deps.now().getTime() + deps.config.retry.requeueDelayMs).toISOString());
    assert.equal(parked?.attributes.CloudPubSubDeadLetterSourceDeliveryCount, undefined);
    // On the delay subscription: "not yet" before its time, then back on the article topic.
    const delayed = pushBody(message, { messageId: 'd-1', attributes: parked?.attributes });
    assert.equal((await recordDeadLetter(delayed, deps)).kind, 'not-yet');
    advance(deps.config.retry.requeueDelayMs);
    assert.equal((await recordDeadLetter(delayed, deps)).kind, 'requeued');
    assert.equal(queue.again[0]?.attributes.notBefore, undefined);
    // The bound: after maxRequeues the article fails, saying why.
    const last = await recordDeadLetter(pushBody(message, { attributes: { ...deadLetterAttributes(5), requeues: String(deps.config.retry.maxRequeues) } }), deps);
    assert.equal(last.kind, 'failed');
    assert.match(store.articles.get(message.urlKey)?.lastError?.message ?? '', /re-queues/);
  });

  it('never overwrites a done article', async () => {
    const { store, deps, message } = setup([page(URL_A)]);
    await scrape(pushBody(message), deps);
    const outcome = await recordDeadLetter(pushBody(message, { attributes: deadLetterAttributes(5) }), deps);
    assert.equal(outcome.kind === 'skipped' && outcome.reason, 'kept-done');
    assert.equal(store.articles.get(message.urlKey)?.status, 'done');
  });

  it('asks for redelivery when storage is unavailable, and acks malformed messages', async () => {
    const { store, deps, message } = setup([]);
    store.failNext(grpcError(4, 'DEADLINE_EXCEEDED'));
    assert.equal((await recordDeadLetter(pushBody(message, { attributes: deadLetterAttributes(5) }), deps)).kind, 'retry');
    assert.equal((await recordDeadLetter({ message: {} }, deps)).kind, 'malformed');
    assert.equal(store.articles.get(message.urlKey)?.status, 'queued');
  });
});
