import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Firestore } from '@google-cloud/firestore';
import * as functionsFramework from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { startFirestoreEmulator, type FirestoreEmulator } from '../../emulator/firestore';
import { startPubSubEmulator, type PubSubEmulator } from '../../emulator/pubsub';
import { createFunctions } from '../../functions/src/app';
import { parseConfig } from '../../functions/src/config';
import { FetchError } from '../../functions/src/fetch/types';
import { memoryLogger } from '../../functions/src/log';
import { article, page, pushBody, scriptedFetch, urlMessage } from './fakes';

process.env.METADATA_SERVER_DETECTION ??= 'none';

describe('createFunctions: push endpoints through functions-framework', () => {
  let emulator: FirestoreEmulator;
  let pubsubEmulator: PubSubEmulator;
  let firestore: Firestore;
  let pubsub: PubSub;
  const servers: Server[] = [];
  const logs = memoryLogger();
  const script = scriptedFetch();
  let scraperUrl = '';
  let recorderUrl = '';

  before(async () => {
    emulator = await startFirestoreEmulator({ kind: 'embedded' });
    firestore = new Firestore({ projectId: 'app-test', host: emulator.host, ssl: false, ignoreUndefinedProperties: true });
    // The scraper publishes a message that must wait to the delay topic; a pull subscription shows it.
    pubsubEmulator = await startPubSubEmulator({ port: 0 });
    pubsub = new PubSub({ projectId: 'app-test', apiEndpoint: pubsubEmulator.host, emulatorMode: true });
    const [delayTopic] = await pubsub.createTopic('article-urls-delayed');
    await delayTopic.createSubscription('delayed-seen');
    const functions = createFunctions({
      config: parseConfig({ GOOGLE_CLOUD_PROJECT: 'app-test' }),
      pubsub,
      firestore,
      fetchPage: (url) => script.fetchPage(url),
      extractArticle: () => article('From the page'),
      log: logs.log,
    });
    const urls: string[] = [];
    for (const [name, handler] of [
      ['scrapeArticle-app-test', functions.scrapeArticle],
      ['recordDeadLetter-app-test', functions.recordDeadLetter],
    ] as const) {
      functionsFramework.http(name, handler);
      const server = getTestServer(name);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
      urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    }
    [scraperUrl = '', recorderUrl = ''] = urls;
  });

  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await pubsub?.close();
    await pubsubEmulator?.stop();
    await firestore?.terminate();
    await emulator?.stop();
  });

  /** The first `count` messages a subscription receives (at most 10 s of waiting). */
  async function receive(subscription: ReturnType<PubSub['subscription']>, count: number): Promise<Message[]> {
    const received: Message[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      subscription.on('message', (message: Message) => {
        message.ack();
        received.push(message);
        if (received.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await subscription.close();
    return received;
  }

  function push(url: string, body: unknown): Promise<Response> {
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  it('answers 204 for a scraped page and 503 for a transient failure', async () => {
    const message = urlMessage('https://example.com/app-1');
    script.push(new FetchError('http-503', 'The site answered 503.', true), new FetchError('http-500', 'The site answered 500.', true), page(message.canonicalUrl));
    assert.equal((await push(scraperUrl, pushBody(message))).status, 503);
    assert.equal((await push(scraperUrl, pushBody(message))).status, 503);
    assert.equal((await push(scraperUrl, pushBody(message))).status, 204);
    const stored = (await firestore.collection('articles').doc(message.urlKey).get()).data();
    assert.equal(stored?.status, 'done');
    assert.equal(stored?.title, 'From the page');
    assert.equal(stored?.attempts, 3);
  });

  it('acks a 429 with Retry-After, parks the message on the delay topic and closes the host in this instance', async () => {
    const message = urlMessage('https://limited.example/app-429');
    const sibling = urlMessage('https://limited.example/app-429-sibling', 'p2');
    script.push(new FetchError('http-429', 'Too many requests.', true, 120_000));
    const before = Date.now();
    assert.equal((await push(scraperUrl, pushBody(message))).status, 204);
    const stored = (await firestore.collection('articles').doc(message.urlKey).get()).data();
    assert.equal(stored?.status, 'queued');
    assert.equal(stored?.attempts, 1);
    assert.equal(stored?.waitingFor, 'limited.example');
    const waitMs = (stored?.nextAttemptAt as { toMillis(): number }).toMillis() - before;
    assert.ok(waitMs >= 120_000 && waitMs < 130_000, `waits ${waitMs} ms`);
    // Another page of the host is not fetched (the script has nothing left to answer) but parked too.
    assert.equal((await push(scraperUrl, pushBody(sibling, { messageId: 'm-sib' }))).status, 204);
    const parked = await receive(pubsub.subscription('delayed-seen'), 2);
    assert.deepEqual(parked.map((entry) => entry.attributes.waitingFor), ['limited.example', 'limited.example']);
    assert.deepEqual(parked.map((entry) => JSON.parse(entry.data.toString()).url).sort(), [message.url, sibling.url].sort());
    for (const entry of parked) assert.ok(Date.parse(entry.attributes.notBefore ?? '') >= before + 120_000);
  });

  it('answers 429 when the instance had no free slot for the host (host-busy), logged as INFO', async () => {
    const message = urlMessage('https://example.com/app-busy');
    script.push(new FetchError('host-busy', 'No slot for example.com came free within 20000 ms.', true));
    const busy = await push(scraperUrl, pushBody(message));
    assert.equal(busy.status, 429);
    assert.ok(busy.headers.get('retry-after'));
    const line = logs.entries.find((entry) => entry.urlKey === message.urlKey && entry.outcome === 'retry');
    assert.ok(line);
    assert.equal(line.code, 'host-busy');
    assert.equal(line.severity, 'INFO');
  });

  it('acks a permanent failure and a malformed delivery with 204', async () => {
    const message = urlMessage('https://example.com/app-2');
    script.push(new FetchError('http-404', 'Not found.', false));
    assert.equal((await push(scraperUrl, pushBody(message))).status, 204);
    assert.equal((await firestore.collection('articles').doc(message.urlKey).get()).get('status'), 'failed');
    assert.equal((await push(scraperUrl, { message: { data: 'e30=' } })).status, 204);
    assert.equal((await push(recorderUrl, { nothing: true })).status, 204);
  });

  it('re-queues a dead letter whose page was fetched fewer than maxDeliveryAttempts times, and fails one fetched that often', async () => {
    const requeued = urlMessage('https://example.com/app-3');
    script.push(new FetchError('timeout', 'The site did not answer within 20 s.', true));
    assert.equal((await push(scraperUrl, pushBody(requeued))).status, 503);
    assert.equal((await push(recorderUrl, pushBody(requeued, { attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '5' } }))).status, 204);
    const waiting = (await firestore.collection('articles').doc(requeued.urlKey).get()).data();
    assert.equal(waiting?.status, 'queued');
    assert.equal(waiting?.waitingFor, 'pipeline');

    const message = urlMessage('https://example.com/app-4');
    script.push(...Array.from({ length: 5 }, () => new FetchError('timeout', 'The site did not answer within 20 s.', true)));
    const statuses = [];
    for (let delivery = 0; delivery < 5; delivery++) statuses.push((await push(scraperUrl, pushBody(message))).status);
    // The fifth fails the round and is still nacked, so Pub/Sub dead-letters it (the audit copy for redrive).
    assert.deepEqual(statuses, [503, 503, 503, 503, 503]);
    assert.equal((await push(recorderUrl, pushBody(message, { attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '5' } }))).status, 204);
    const stored = (await firestore.collection('articles').doc(message.urlKey).get()).data();
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.lastError.code, 'dead-lettered');
    assert.match(stored?.lastError.message, /5 fetches; the last error was timeout/);
  });

  it('logs one structured line per delivery with the fields Cloud Logging filters on', () => {
    const line = logs.entries.find((entry) => entry.outcome === 'done');
    assert.ok(line);
    assert.equal(line.severity, 'INFO');
    assert.equal(line.portfolioId, 'p1');
    assert.equal(line.messageId, 'm-1');
    assert.match(line.urlKey ?? '', /^[0-9a-f]{64}$/);
    assert.equal(typeof line.durationMs, 'number');
    const malformed = logs.entries.filter((entry) => entry.outcome === 'malformed');
    assert.equal(malformed.length, 2);
    assert.ok(malformed.every((entry) => entry.severity === 'ERROR'));
  });
});
