import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Firestore } from '@google-cloud/firestore';
import * as functionsFramework from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { PubSub } from '@google-cloud/pubsub';
import { startFirestoreEmulator, type FirestoreEmulator } from '../../emulator/firestore';
import { createFunctions } from '../../functions/src/app';
import { parseConfig } from '../../functions/src/config';
import { FetchError } from '../../functions/src/fetch/types';
import { memoryLogger } from '../../functions/src/log';
import { article, page, pushBody, scriptedFetch, urlMessage } from './fakes';

process.env.METADATA_SERVER_DETECTION ??= 'none';

describe('createFunctions: push endpoints through functions-framework', () => {
  let emulator: FirestoreEmulator;
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
    // Never contacted: the push endpoints don't publish.
    pubsub = new PubSub({ projectId: 'app-test', apiEndpoint: '127.0.0.1:9', emulatorMode: true });
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
    await firestore?.terminate();
    await emulator?.stop();
  });

  function push(url: string, body: unknown): Promise<Response> {
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  it('answers 204 for a scraped page, 503 for a transient failure and 429 with Retry-After when the site said 429', async () => {
    const message = urlMessage('https://example.com/app-1');
    script.push(new FetchError('http-503', 'The site answered 503.', true), new FetchError('http-429', 'Too many requests.', true), page(message.canonicalUrl));
    assert.equal((await push(scraperUrl, pushBody(message))).status, 503);
    const throttled = await push(scraperUrl, pushBody(message));
    assert.equal(throttled.status, 429);
    assert.ok(throttled.headers.get('retry-after'));
    assert.equal((await push(scraperUrl, pushBody(message))).status, 204);
    const stored = (await firestore.collection('articles').doc(message.urlKey).get()).data();
    assert.equal(stored?.status, 'done');
    assert.equal(stored?.title, 'From the page');
    assert.equal(stored?.attempts, 3);
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

  it('records a dead letter as failed: dead-lettered and answers 204', async () => {
    const message = urlMessage('https://example.com/app-3');
    script.push(new FetchError('timeout', 'The site did not answer within 20 s.', true));
    assert.equal((await push(scraperUrl, pushBody(message))).status, 503);
    const response = await push(recorderUrl, pushBody(message, { attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '5' } }));
    assert.equal(response.status, 204);
    const stored = (await firestore.collection('articles').doc(message.urlKey).get()).data();
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.lastError.code, 'dead-lettered');
    assert.match(stored?.lastError.message, /last error was timeout/);
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
