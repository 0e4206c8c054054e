import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { status } from '@grpc/grpc-js';
import { PubSub, v1, type Topic } from '@google-cloud/pubsub';
import { startPubSubEmulator, type PubSubEmulator } from '../../../emulator/pubsub';
import { grpcError } from '../../helpers/grpc';
import { pushEndpoints, startPushEndpoint } from '../../helpers/push-endpoint';

/**
 * Behaviour of the Node-native emulator beyond the conformance suite (test/conformance/), which runs
 * the shared behaviour on both emulators.
 */
describe('Node-native Pub/Sub emulator', () => {
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  const endpoints = pushEndpoints();
  const endpoint = endpoints.start;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${++counter}`;
  const projectId = 'emulator-test';

  before(async () => {
    emulator = await startPubSubEmulator({ pushConcurrency: 2 });
    pubsub = new PubSub({ projectId, apiEndpoint: emulator.host });
  });
  after(async () => {
    await endpoints.closeAll();
    await pubsub.close();
    await emulator.stop();
  });

  const createTopic = async (): Promise<Topic> => (await pubsub.createTopic(unique('topic')))[0];
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('binds loopback and reports HOST:PORT for PUBSUB_EMULATOR_HOST', () => {
    assert.equal(emulator.host, `127.0.0.1:${emulator.port}`);
    assert.ok(emulator.port > 0);
  });

  it('answers UNIMPLEMENTED naming the method for RPCs it does not cover', async () => {
    const topic = await createTopic();
    const [subscription] = await topic.createSubscription(unique('sub'));
    const publisher = new v1.PublisherClient(pubsub.options as ConstructorParameters<typeof v1.PublisherClient>[0]);
    try {
      await assert.rejects(
        publisher.detachSubscription({ subscription: subscription.name }),
        grpcError(status.UNIMPLEMENTED, /google\.pubsub\.v1\.Publisher\.DetachSubscription is not implemented/),
      );
    } finally {
      await publisher.close();
    }
  });

  it('validates subscriptions as the real service documents (pubsub.proto)', async () => {
    const topic = await createTopic();
    const deadLetter = await createTopic();
    const invalid = grpcError(status.INVALID_ARGUMENT);
    await assert.rejects(topic.createSubscription(unique('sub'), { ackDeadlineSeconds: 5 }), invalid);
    await assert.rejects(
      topic.createSubscription(unique('sub'), { retryPolicy: { minimumBackoff: { seconds: 601 } } }),
      grpcError(status.INVALID_ARGUMENT, /minimum_backoff/),
    );
    await assert.rejects(
      topic.createSubscription(unique('sub'), {
        retryPolicy: { minimumBackoff: { seconds: 20 }, maximumBackoff: { seconds: 10 } },
      }),
      invalid,
    );
    await assert.rejects(
      topic.createSubscription(unique('sub'), { deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: 4 } }),
      grpcError(status.INVALID_ARGUMENT, /max_delivery_attempts/),
    );
    await assert.rejects(
      topic.createSubscription(unique('sub'), { pushConfig: { pushEndpoint: 'not a url' } }),
      grpcError(status.INVALID_ARGUMENT, /push_endpoint/),
    );
    // 0 means the default of 5 attempts; a retry policy without bounds gets the 10 s / 600 s defaults.
    const [subscription] = await topic.createSubscription(unique('sub'), {
      deadLetterPolicy: { deadLetterTopic: deadLetter.name },
      retryPolicy: {},
    });
    const [metadata] = await subscription.getMetadata();
    assert.equal(metadata.deadLetterPolicy?.maxDeliveryAttempts, 5);
    assert.equal(Number(metadata.retryPolicy?.minimumBackoff?.seconds), 10);
    assert.equal(Number(metadata.retryPolicy?.maximumBackoff?.seconds), 600);
    assert.equal(metadata.ackDeadlineSeconds, 10);
  });

  it('updates push config, dead-letter policy, retry policy and ack deadline through UpdateSubscription', async () => {
    const topic = await createTopic();
    const deadLetter = await createTopic();
    const [subscription] = await topic.createSubscription(unique('sub'));
    await topic.publishMessage({ data: Buffer.from('waiting in the backlog') });

    const push = await endpoint(() => 204);
    await subscription.setMetadata({
      pushConfig: { pushEndpoint: push.url },
      deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: 7 },
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 5 } },
      ackDeadlineSeconds: 42,
    });
    const [metadata] = await subscription.getMetadata();
    assert.equal(metadata.pushConfig?.pushEndpoint, push.url);
    assert.equal(metadata.deadLetterPolicy?.maxDeliveryAttempts, 7);
    assert.equal(Number(metadata.retryPolicy?.maximumBackoff?.seconds), 5);
    assert.equal(metadata.ackDeadlineSeconds, 42);
    // Becoming a push subscription pushes the backlog, now with a delivery attempt.
    const [request] = await push.waitFor(1);
    assert.equal((request!.body as { deliveryAttempt: number }).deliveryAttempt, 1);

    await assert.rejects(
      subscription.setMetadata({ topic: topic.name } as never),
      grpcError(status.INVALID_ARGUMENT, /cannot be updated/),
    );
    await assert.rejects(
      subscription.setMetadata({ deadLetterPolicy: { deadLetterTopic: `projects/${projectId}/topics/missing-topic` } }),
      grpcError(status.NOT_FOUND),
    );
  });

  it('turns a push subscription into a pull one with ModifyPushConfig', async () => {
    const push = await endpoint(() => 204);
    const topic = await createTopic();
    const [subscription] = await topic.createSubscription(unique('sub'), { pushConfig: { pushEndpoint: push.url } });
    await subscription.modifyPushConfig({});
    assert.equal((await subscription.getMetadata())[0].pushConfig?.pushEndpoint ?? '', '');
    await topic.publishMessage({ data: Buffer.from('pull me') });
    const received = await new Promise<string>((resolve, reject) => {
      subscription.on('error', reject);
      subscription.on('message', (message) => {
        message.ack();
        resolve(message.data.toString());
      });
    });
    await subscription.close();
    assert.equal(received, 'pull me');
    assert.equal(push.requests.length, 0);
  });

  it('keeps at most pushConcurrency pushes in flight per subscription', async () => {
    let inFlight = 0;
    let peak = 0;
    const push = await endpoint(() => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      return 'hang';
    });
    const topic = await createTopic();
    await topic.createSubscription(unique('sub'), { pushConfig: { pushEndpoint: push.url }, ackDeadlineSeconds: 600 });
    await Promise.all(Array.from({ length: 6 }, (_, i) => topic.publishMessage({ data: Buffer.from(String(i)) })));
    await push.waitFor(2);
    await sleep(300);
    assert.equal(push.requests.length, 2, 'the emulator was started with pushConcurrency 2');
    assert.equal(peak, 2);
  });

  it('redelivers what is not acked within the ack deadline, pushed or pulled', async function () {
    this.timeout(20_000);
    const push = await endpoint((_request, index) => (index === 0 ? 'hang' : 204));
    const topic = await createTopic();
    const deadLetter = await createTopic();
    const policies = {
      ackDeadlineSeconds: 10, // the shortest the service allows
      deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 0 } },
    };
    await topic.createSubscription(unique('sub'), { pushConfig: { pushEndpoint: push.url }, ...policies });
    const [pulled] = await topic.createSubscription(unique('sub'), policies);
    await topic.publishMessage({ data: Buffer.from('slow') });

    const subscriber = new v1.SubscriberClient(pubsub.options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
    try {
      const pullOnce = async () => {
        for (;;) {
          const [response] = await subscriber.pull({ subscription: pulled.name, maxMessages: 1 });
          const message = response.receivedMessages?.[0];
          if (message) return message;
        }
      };
      const first = await pullOnce(); // and never acked
      const [second, pushes] = await Promise.all([pullOnce(), push.waitFor(2, 15_000)]);
      assert.equal(first.deliveryAttempt, 1);
      assert.equal(second.deliveryAttempt, 2);
      assert.equal(second.message?.messageId, first.message?.messageId);
      assert.deepEqual(
        pushes.map((request) => (request.body as { deliveryAttempt: number }).deliveryAttempt),
        [1, 2],
      );
    } finally {
      await subscriber.close();
    }
  });

  it('pushes unwrapped messages as raw data with metadata headers when asked to', async () => {
    const push = await endpoint(() => 204);
    const topic = await createTopic();
    const [subscription] = await topic.createSubscription(unique('sub'), {
      pushConfig: { pushEndpoint: push.url, noWrapper: { writeMetadata: true } },
    });
    const messageId = await topic.publishMessage({ data: Buffer.from('raw body'), attributes: { color: 'blue' } });
    const [request] = await push.waitFor(1);
    assert.equal(request!.body, 'raw body');
    assert.equal(request!.headers.color, 'blue');
    assert.equal(request!.headers['x-goog-pubsub-message-id'], messageId);
    assert.equal(request!.headers['x-goog-pubsub-subscription-name'], subscription.name);
  });

  it('keeps a subscription after its topic is deleted, as the real service does', async () => {
    const topic = await createTopic();
    const [subscription] = await topic.createSubscription(unique('sub'));
    await topic.delete();
    const [metadata] = await subscription.getMetadata();
    assert.equal(metadata.topic, '_deleted-topic_');
  });

  it('rejects publishes the real service rejects', async () => {
    const topic = await createTopic();
    await assert.rejects(
      topic.publishMessage({ data: Buffer.from('x'), attributes: { googThing: 'reserved' } }),
      grpcError(status.INVALID_ARGUMENT, /reserved/),
    );
  });

  it('forgets every topic and subscription on reset()', async () => {
    const topic = await createTopic();
    emulator.reset();
    assert.equal((await topic.exists())[0], false);
    assert.deepEqual((await pubsub.getTopics())[0], []);
  });
});

/** Records the timers that code under `emulator/pubsub/` set itself and that are still pending. */
function trackEmulatorTimers(): { pending(): number; stop(): void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const frames = (new Error().stack ?? '').split('\n');
      const caller = frames[frames.findIndex((frame) => frame.includes('at setTimeout')) + 1] ?? '';
      if (/emulator[\\/]pubsub[\\/]/.test(caller)) live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { pending: () => live.size, stop: () => hook.disable() };
}

describe('Node-native Pub/Sub emulator shutdown', () => {
  it('cancels pending pushes and leaves no timers behind', async function () {
    this.timeout(15_000);
    const timers = trackEmulatorTimers();
    const emulator = await startPubSubEmulator();
    const pubsub = new PubSub({ projectId: 'shutdown-test', apiEndpoint: emulator.host });
    const push = await startPushEndpoint(() => 'hang');
    try {
      const [topic] = await pubsub.createTopic('shutdown-topic');
      await topic.createSubscription('shutdown-sub', { pushConfig: { pushEndpoint: push.url }, ackDeadlineSeconds: 600 });
      await topic.publishMessage({ data: Buffer.from('never answered') });
      const [pending] = await push.waitFor(1);
      // The push waits on its 600 s ack deadline timer.
      assert.ok(timers.pending() > 0);
      await pubsub.close();
      await emulator.stop();
      // The emulator aborted its request: the endpoint sees the connection close unanswered.
      await pending!.abandoned;
      // Timer destruction is reported asynchronously.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(timers.pending(), 0);
    } finally {
      timers.stop();
      await push.close();
    }
  });
});
