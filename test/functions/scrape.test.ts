import assert from 'node:assert/strict';
import { FetchError } from '../../functions/src/fetch/types';
import { completeFailed, decodePushEnvelope, MalformedMessageError, recordDeadLetter, recordRetry, scrape, type ScrapeDeps } from '../../functions/src/scrape';
import { parseConfig } from '../../functions/src/config';
import { queuedArticle } from '../../functions/src/store';
import { article, delivery, grpcError, MemoryStore, page, pushBody, scriptedFetch, urlMessage } from './fakes';

const URL_A = 'https://example.com/a';
const PUBLISHED = new Date('2026-01-01T00:00:00Z');

function setup(script: Parameters<typeof scriptedFetch>, start = new Date('2026-01-01T00:00:10Z')) {
  const store = new MemoryStore();
  const fetch = scriptedFetch(...script);
  let clock = start.getTime();
  const deps: ScrapeDeps = {
    fetchPage: fetch.fetchPage,
    extract: (_html, pageUrl) => article(`Title of ${pageUrl}`),
    store,
    now: () => new Date(clock),
    config: parseConfig({}),
  };
  const message = urlMessage(URL_A);
  store.articles.set(message.urlKey, queuedArticle(message, new Date(clock)));
  return { store, fetch, deps, message, advance: (ms: number) => (clock += ms) };
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

  it('asks for a retry on a transient failure, keeps the article queued and counts the attempt', async () => {
    const { store, deps, message } = setup([new FetchError('http-503', 'The site answered 503.', true), new FetchError('http-429', 'Too many requests.', true, 30_000), page(URL_A)]);
    const first = await scrape(pushBody(message), deps);
    assert.equal(first.kind, 'retry');
    assert.equal(first.kind === 'retry' && first.httpStatus, 503);
    assert.equal(store.articles.get(message.urlKey)?.status, 'queued');
    assert.equal(store.articles.get(message.urlKey)?.lastError?.code, 'http-503');
    const second = await scrape(pushBody(message), deps);
    assert.equal(second.kind === 'retry' && second.httpStatus, 429);
    const third = await scrape(pushBody(message), deps);
    assert.equal(third.kind, 'done');
    assert.equal(store.articles.get(message.urlKey)?.attempts, 3);
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

  it('takes the delivery attempt from Pub/Sub when it is ahead of the stored count', async () => {
    const { store, deps, message } = setup([new FetchError('timeout', 'Timed out.', true)]);
    await scrape(pushBody(message, { deliveryAttempt: 4 }), deps);
    assert.equal(store.articles.get(message.urlKey)?.attempts, 4);
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
    assert.equal(completeFailed(resolved, late, error, later).next, null);
    assert.equal(recordRetry(resolved, late, error, later).next, null);
  });

  it('starts a new round for a message published after the article failed', () => {
    const resubmitted = delivery(URL_A, { publishTime: new Date('2026-01-01T00:01:00Z') });
    const change = recordRetry(resolved, resubmitted, { code: 'timeout', message: 'Timed out.' }, later);
    assert.equal(change.next?.status, 'queued');
    assert.equal(change.next?.attempts, 1);
    assert.equal(change.next?.lastError?.code, 'timeout');
  });
});

describe('recordDeadLetter', () => {
  const deadLetterAttributes = (count: number) => ({ CloudPubSubDeadLetterSourceDeliveryCount: String(count), CloudPubSubDeadLetterSourceTopicPublishTime: PUBLISHED.toISOString() });

  it('marks the article failed: dead-lettered, with the delivery count and the last error', async () => {
    const { store, deps, message } = setup([new FetchError('http-500', 'The site answered 500 Internal Server Error.', true)]);
    await scrape(pushBody(message), deps);
    const outcome = await recordDeadLetter(pushBody(message, { attributes: deadLetterAttributes(5) }), deps);
    assert.equal(outcome.kind, 'failed');
    const stored = store.articles.get(message.urlKey);
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.attempts, 5);
    assert.equal(stored?.lastError?.code, 'dead-lettered');
    assert.match(stored?.lastError?.message ?? '', /5 delivery attempts; the last error was http-500: The site answered 500/);
    assert.equal(stored?.lastError?.cause?.code, 'http-500');
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
