/**
 * Garbage on the queue, through the real Pub/Sub emulator: messages no scraper could read, published
 * straight to the URL topic and to the dead-letter topic, and garbage POSTed to both push endpoints.
 * Retrying can't fix any of them, so each must be acked and logged once — never redelivered, never
 * dead-lettered.
 */
import assert from 'node:assert/strict';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { FetchError } from '../../functions/src/fetch/types';
import { memoryLogger, type LogEntry } from '../../functions/src/log';
import { page, urlMessage } from '../functions/fakes';
import { forEachLane } from '../helpers/lanes';

/** Message data no scraper can use; each is published once to each topic. */
const GARBAGE: Array<{ kind: string; data: Buffer; attributes?: Record<string, string> }> = [
  { kind: 'not JSON', data: Buffer.from('this is not JSON') },
  { kind: 'binary', data: Buffer.from([0xff, 0x00, 0xfe, 0x80]) },
  { kind: 'a JSON array', data: Buffer.from('[1, 2, 3]') },
  { kind: 'missing fields', data: Buffer.from(JSON.stringify({ url: 'https://example.com/a' })) },
  { kind: 'urlKey mismatch', data: Buffer.from(JSON.stringify({ ...urlMessage('https://example.com/b'), urlKey: '0'.repeat(64) })) },
  // Pub/Sub takes a message without data if it has an attribute.
  { kind: 'empty data', data: Buffer.alloc(0), attributes: { note: 'empty' } },
];

/** Bodies POSTed straight to a push endpoint; none is a usable envelope. */
const DIRECT: Array<{ kind: string; contentType?: string; body: string | Buffer }> = [
  { kind: 'plain text', contentType: 'text/plain', body: 'hello' },
  { kind: 'bytes of no type', body: Buffer.from([0, 1, 2, 0xff]) },
  { kind: 'octet-stream', contentType: 'application/octet-stream', body: Buffer.from('{"message": {}}') },
  { kind: 'empty JSON body', contentType: 'application/json', body: '' },
  { kind: 'empty object', contentType: 'application/json', body: '{}' },
  { kind: 'array', contentType: 'application/json', body: '[{"message": {}}]' },
  { kind: 'message not an object', contentType: 'application/json', body: '{"message": "hi"}' },
  { kind: 'no messageId', contentType: 'application/json', body: '{"message": {"data": "e30="}}' },
  { kind: 'numeric messageId', contentType: 'application/json', body: '{"message": {"data": "e30=", "messageId": 7}}' },
  { kind: 'no data', contentType: 'application/json', body: '{"message": {"messageId": "direct-1"}}' },
  { kind: 'data not base64', contentType: 'application/json', body: '{"message": {"data": "%%% not base64 %%%", "messageId": "direct-2"}}' },
  { kind: 'data not a string', contentType: 'application/json', body: '{"message": {"data": {"url": "https://example.com/"}, "messageId": "direct-3"}}' },
];

const CONTROL_URL = 'https://control.example/retried-once';

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

forEachLane('malformed deliveries', (lane) => {
  let stack: LocalStack;
  const logs = memoryLogger();
  const fetched: string[] = [];

  before(async function () {
    this.timeout(60_000);
    stack = await startLocalStack({
      running: lane.emulators(),
      apiPort: 0,
      backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      deps: {
        log: logs.log,
        // Only the control message is fetched: 503 once (a nack, so it is redelivered), then a page.
        fetchPage: async (url) => {
          fetched.push(url);
          if (url !== CONTROL_URL) throw new Error(`a malformed message was fetched: ${url}`);
          if (fetched.length === 1) throw new FetchError('http-503', `${url} answered HTTP 503; retry later.`, true);
          return page(url);
        },
      },
    });
  });

  after(async function () {
    this.timeout(30_000);
    await stack?.stop();
  });

  it('acks each garbage message on either topic once: logged as malformed, never redelivered or dead-lettered', async function () {
    this.timeout(60_000);
    const { pubsub } = stack.clients;
    const publishAll = (topic: string): Promise<string[]> => Promise.all(GARBAGE.map(({ data, attributes }) => pubsub.topic(topic).publishMessage({ data, attributes })));
    const [toScraper, toRecorder] = await Promise.all([publishAll(stack.names.topic), publishAll(stack.names.deadLetterTopic)]);
    const linesFor = (messageId: string): LogEntry[] => logs.entries.filter((entry) => entry.messageId === messageId);
    await until(() => [...toScraper, ...toRecorder].every((id) => linesFor(id).length > 0), 20_000, 'a first delivery of every garbage message');

    // A nacked message is redelivered within the retry backoff. The control, published after every
    // garbage message was delivered, is nacked once; by its redelivery each garbage message has had
    // at least as long to come back, had it been nacked.
    const control = urlMessage(CONTROL_URL, 'control');
    const controlId = await pubsub.topic(stack.names.topic).publishMessage({ data: Buffer.from(JSON.stringify(control)) });
    await until(() => linesFor(controlId).some((entry) => entry.outcome === 'done'), 30_000, 'the control message, retried once, to be done');
    assert.deepEqual(fetched, [CONTROL_URL, CONTROL_URL]);
    assert.deepEqual(linesFor(controlId).map((entry) => entry.outcome), ['retry', 'done']);

    const expectOnce = (ids: string[], topic: string, says: RegExp): void => {
      for (const [index, id] of ids.entries()) {
        const lines = linesFor(id);
        assert.equal(lines.length, 1, `${GARBAGE[index]?.kind} on the ${topic}: delivered ${lines.length} times`);
        assert.equal(lines[0]?.severity, 'ERROR');
        assert.equal(lines[0]?.outcome, 'malformed');
        assert.equal(lines[0]?.code, 'malformed-message');
        assert.match(lines[0]?.message ?? '', says);
      }
    };
    expectOnce(toScraper, 'URL topic', /^Dropped a malformed push delivery: /);
    expectOnce(toRecorder, 'dead-letter topic', /^Dropped a malformed dead letter: /);
    // Nothing else was delivered: no redelivery, and no garbage went on to the dead-letter topic.
    const delivered = logs.entries.map((entry) => entry.messageId ?? '(none)').sort();
    assert.deepEqual(delivered, [...toScraper, ...toRecorder, controlId, controlId].sort());
  });

  for (const endpoint of ['scraper', 'recorder'] as const) {
    it(`acks garbage POSTed straight to the ${endpoint} with 2xx and logs each once as malformed`, async () => {
      const url = endpoint === 'scraper' ? stack.scraperUrl : stack.recorderUrl;
      for (const { kind, contentType, body } of DIRECT) {
        const before = logs.entries.length;
        // Signed as Pub/Sub's own push would be (where the emulator signs): garbage past the door.
        const signed = stack.pushHeaders(endpoint === 'scraper' ? 'scrapeArticle' : 'recordDeadLetter');
        const response = await fetch(url, { method: 'POST', headers: { ...signed, ...(contentType ? { 'content-type': contentType } : {}) }, body });
        await response.arrayBuffer();
        assert.ok(response.status >= 200 && response.status < 300, `${kind}: ${response.status}`);
        const added = logs.entries.slice(before);
        assert.equal(added.length, 1, `${kind}: ${JSON.stringify(added)}`);
        assert.equal(added[0]?.outcome, 'malformed', kind);
        assert.equal(added[0]?.code, 'malformed-message');
        const messageId = /"messageId": "([^"]+)"/.exec(String(body))?.[1];
        assert.equal(added[0]?.messageId, messageId, `${kind}: the line names the messageId the envelope had`);
      }
      assert.deepEqual(fetched, [CONTROL_URL, CONTROL_URL], 'nothing else was fetched');
    });
  }
});
