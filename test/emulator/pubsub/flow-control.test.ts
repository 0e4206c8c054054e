import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PubSub } from '@google-cloud/pubsub';
import { startPubSubEmulator, type PubSubEmulator } from '../../../emulator/pubsub';
import { defaultPushFlow, PushFlow } from '../../../emulator/pubsub/flow-control';

process.env.METADATA_SERVER_DETECTION ??= 'none';

describe('push flow control model', () => {
  it('grows the window by one per ack from a single-digit start, halves it per nack, and backs off after mostly nacks', () => {
    const flow = new PushFlow({ ...defaultPushFlow, maxWindow: 6 });
    assert.equal(flow.room(0, 0), 3);
    for (let ack = 0; ack < 5; ack++) flow.record(true, 0);
    assert.equal(flow.state().window, 6, 'capped at maxWindow');
    assert.equal(flow.room(4, 0), 2);
    flow.record(false, 1000);
    assert.equal(flow.state().window, 3);
    assert.equal(flow.state().backoffUntil, 0, 'one nack among acks is no push backoff');
    for (let nack = 0; nack < 5; nack++) flow.record(false, 2000);
    assert.equal(flow.state().window, 1);
    assert.equal(flow.state().backoffMs, 100);
    assert.equal(flow.room(0, 2050), 0, 'nothing is pushed during the backoff');
    assert.equal(flow.room(0, 2100), 1);
    const lengths = [2100, 2300, 2700, 3500].map((at) => (flow.record(false, at), flow.state().backoffMs));
    assert.deepEqual(lengths, [200, 400, 800, 1600], 'doubling per backoff in a row');
    for (let at = 10_000; at < 10_000 + 20 * 70_000; at += 70_000) flow.record(false, at);
    assert.equal(flow.state().backoffMs, 60_000, 'at most 60 s');
    flow.record(true, 2_000_000);
    assert.equal(flow.state().backoffMs, 0, 'an ack ends the backoff sequence');
    assert.equal(flow.state().window, 2);
  });
});

describe('push flow control through the Node-native Pub/Sub emulator', () => {
  const held: ServerResponse[] = [];
  const arrivals: number[] = [];
  let url = '';
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(Date.now());
      held.push(res);
    });
  });
  const emulators: PubSubEmulator[] = [];
  const clients: PubSub[] = [];

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterEach(async () => {
    for (const res of held.splice(0)) res.writeHead(204).end();
    for (const client of clients.splice(0)) await client.close();
    for (const emulator of emulators.splice(0)) await emulator.stop();
    arrivals.length = 0;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  async function subscriptionWith(pushFlow: boolean, messages: number): Promise<PubSubEmulator> {
    const emulator = await startPubSubEmulator({ port: 0, pushFlow });
    emulators.push(emulator);
    const client = new PubSub({ projectId: 'flow-test', apiEndpoint: emulator.host, emulatorMode: true });
    clients.push(client);
    const [topic] = await client.createTopic('flow');
    await topic.createSubscription('flow-push', { pushConfig: { pushEndpoint: url }, retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 0 } } });
    await Promise.all(Array.from({ length: messages }, (_, index) => topic.publishMessage({ data: Buffer.from(`m${index}`) })));
    return emulator;
  }

  it('pushes a new subscription through a small window that each ack widens', async function () {
    this.timeout(30_000);
    await subscriptionWith(true, 20);
    await until(() => arrivals.length >= 3, '3 pushes');
    await sleep(300);
    assert.equal(arrivals.length, 3, 'the first window holds 3 pushes');
    held.shift()?.writeHead(204).end();
    // 2 still in flight, window 4: two more.
    await until(() => arrivals.length >= 5, '5 pushes');
    await sleep(300);
    assert.equal(arrivals.length, 5);
  });

  it('pauses the whole subscription (push backoff) when the endpoint answers with nacks', async function () {
    this.timeout(30_000);
    const emulator = await subscriptionWith(true, 20);
    await until(() => arrivals.length >= 3, '3 pushes');
    const nackedAt = Date.now();
    for (const res of held.splice(0)) res.writeHead(500).end();
    await until(() => arrivals.length >= 4, 'a push after the backoff');
    assert.ok((arrivals[3] ?? 0) - nackedAt >= defaultPushFlow.minBackoffMs, `next push ${(arrivals[3] ?? 0) - nackedAt} ms after the nacks`);
    await sleep(300);
    assert.equal(arrivals.length, 4, 'the window shrank to one push');
    // What a benchmark reads of it: the pushes, their answers, the backoffs, the window now.
    const [stats] = emulator.pushStats();
    assert.equal(stats?.subscription, 'projects/flow-test/subscriptions/flow-push');
    assert.deepEqual({ pushes: stats?.pushes, acks: stats?.acks, nacks: stats?.nacks, window: stats?.window, unacked: stats?.unacked }, { pushes: 4, acks: 0, nacks: 3, window: 1, unacked: 20 });
    assert.ok((stats?.backoffs ?? 0) >= 1, `${stats?.backoffs} push backoffs`);
  });

  it('pushes up to pushConcurrency at once when the model is off', async function () {
    this.timeout(30_000);
    await subscriptionWith(false, 20);
    await until(() => arrivals.length >= 16, '16 pushes');
  });
});
