import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { google } from '@google-cloud/pubsub/build/protos/protos';
import { PubSub, v1, type Message, type Subscription, type Topic } from '@google-cloud/pubsub';
import { grpcError } from '../helpers/grpc';
import { pushEndpoints } from '../helpers/push-endpoint';
import { forEachLane } from '../helpers/lanes';

type ReceivedMessage = google.pubsub.v1.IReceivedMessage;

/**
 * The same behaviour, through the official client, on every emulator lane: the Node-native one always
 * and the official gcloud one where installed. Where the official emulator differs from the real
 * service, the test says so and asserts each side's own behaviour.
 */
forEachLane('Pub/Sub conformance', (lane) => {
  let pubsub: PubSub;
  let subscriber: v1.SubscriberClient;
  const endpoints = pushEndpoints();
  const endpoint = endpoints.start;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++counter}`;

  before(() => {
    pubsub = new PubSub({ projectId: lane.projectId, apiEndpoint: lane.emulators().hosts.pubsub });
    // The generated client shares the emulator settings (servicePath, port, insecure credentials).
    subscriber = new v1.SubscriberClient(pubsub.options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
  });
  after(async () => {
    await endpoints.closeAll();
    await subscriber.close();
    await pubsub.close();
  });

  const createTopic = async (prefix = 'topic'): Promise<Topic> => (await pubsub.createTopic(unique(prefix)))[0];

  /** Pulls until `count` messages arrived (a Pull may answer with fewer than are available). */
  async function pullAtLeast(subscription: string, count: number): Promise<ReceivedMessage[]> {
    const received: ReceivedMessage[] = [];
    const deadline = Date.now() + 15_000;
    while (received.length < count && Date.now() < deadline) {
      const [response] = await subscriber.pull({ subscription, maxMessages: count - received.length });
      received.push(...(response.receivedMessages ?? []));
    }
    return received;
  }

  describe('topics', () => {
    it('creates, gets, lists and deletes a topic', async () => {
      const name = unique('topic');
      const [topic] = await pubsub.createTopic(name);
      assert.equal(topic.name, `projects/${lane.projectId}/topics/${name}`);
      const [metadata] = await topic.getMetadata();
      assert.equal(metadata.name, topic.name);
      const [topics] = await pubsub.getTopics();
      assert.ok(topics.some((t) => t.name === topic.name));
      await topic.delete();
      const [exists] = await topic.exists();
      assert.equal(exists, false);
    });

    it('answers ALREADY_EXISTS, NOT_FOUND and INVALID_ARGUMENT like the real service', async () => {
      const topic = await createTopic();
      await assert.rejects(pubsub.createTopic(topic.name), grpcError(status.ALREADY_EXISTS));
      await assert.rejects(pubsub.topic(unique('missing')).getMetadata(), grpcError(status.NOT_FOUND));
      await assert.rejects(pubsub.topic(unique('missing')).delete(), grpcError(status.NOT_FOUND));
      await assert.rejects(pubsub.topic(unique('missing')).publishMessage({ data: Buffer.from('x') }), grpcError(status.NOT_FOUND));
      // Ids must start with a letter and be at least 3 characters long.
      await assert.rejects(pubsub.createTopic('1-starts-with-a-digit'), grpcError(status.INVALID_ARGUMENT));
      await assert.rejects(pubsub.createTopic('ab'), grpcError(status.INVALID_ARGUMENT));
    });
  });

  describe('subscriptions', () => {
    it('creates, gets, lists and deletes a subscription, and lists it under its topic', async () => {
      const topic = await createTopic();
      const name = unique('sub');
      const [subscription] = await topic.createSubscription(name, { ackDeadlineSeconds: 30 });
      const [metadata] = await subscription.getMetadata();
      assert.equal(metadata.topic, topic.name);
      assert.equal(metadata.ackDeadlineSeconds, 30);
      const [all] = await pubsub.getSubscriptions();
      assert.ok(all.some((s) => s.name === subscription.name));
      const [ofTopic] = await topic.getSubscriptions();
      assert.deepEqual(
        ofTopic.map((s) => s.name),
        [subscription.name],
      );
      await subscription.delete();
      assert.equal((await subscription.exists())[0], false);
    });

    it('answers ALREADY_EXISTS and NOT_FOUND like the real service', async () => {
      const topic = await createTopic();
      const [subscription] = await topic.createSubscription(unique('sub'));
      await assert.rejects(topic.createSubscription(subscription.name), grpcError(status.ALREADY_EXISTS));
      await assert.rejects(pubsub.topic(unique('missing')).createSubscription(unique('sub')), grpcError(status.NOT_FOUND));
      await assert.rejects(pubsub.subscription(unique('missing')).getMetadata(), grpcError(status.NOT_FOUND));
      await assert.rejects(pubsub.subscription(unique('missing')).delete(), grpcError(status.NOT_FOUND));
    });

    it('rejects a dead-letter policy with a missing topic (NOT_FOUND) or out-of-range attempts', async () => {
      const topic = await createTopic();
      const deadLetter = await createTopic('dead');
      await assert.rejects(
        topic.createSubscription(unique('sub'), {
          deadLetterPolicy: { deadLetterTopic: `projects/${lane.projectId}/topics/${unique('missing')}`, maxDeliveryAttempts: 5 },
        }),
        grpcError(status.NOT_FOUND),
      );
      // The real service documents 5–100 and answers INVALID_ARGUMENT; the official emulator answers
      // OUT_OF_RANGE for the same request.
      const outOfRange = lane.kind === 'gcloud' ? status.OUT_OF_RANGE : status.INVALID_ARGUMENT;
      await assert.rejects(
        topic.createSubscription(unique('sub'), {
          deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: 200 },
        }),
        grpcError(outOfRange),
      );
    });
  });

  describe('publish and pull', () => {
    it('publishes a batch in one tick and pulls every message with its data and attributes', async () => {
      const topic = await createTopic();
      const [subscription] = await topic.createSubscription(unique('sub'));
      const payloads = Array.from({ length: 20 }, (_, i) => `message ${i}`);
      const ids = await Promise.all(
        payloads.map((data, i) => topic.publishMessage({ data: Buffer.from(data), attributes: { index: String(i) } })),
      );
      assert.equal(new Set(ids).size, payloads.length);

      const received = await pullAtLeast(subscription.name, payloads.length);
      assert.deepEqual(
        received.map((r) => Buffer.from(r.message!.data as Uint8Array).toString()).sort(),
        [...payloads].sort(),
      );
      for (const r of received) {
        const index = Number(r.message!.attributes!.index);
        assert.equal(Buffer.from(r.message!.data as Uint8Array).toString(), payloads[index]);
        assert.equal(r.message!.messageId, ids[index]);
      }
      await subscriber.acknowledge({ subscription: subscription.name, ackIds: received.map((r) => r.ackId!) });
    });

    it('counts delivery attempts on pull and dead-letters after max attempts', async function () {
      const topic = await createTopic();
      const deadLetter = await createTopic('dead');
      const [deadLetterSub] = await deadLetter.createSubscription(unique('dead-sub'));
      const [subscription] = await topic.createSubscription(unique('sub'), {
        deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: 5 },
        retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 1 } },
      });
      await topic.publishMessage({ data: Buffer.from('keeps failing'), attributes: { kind: 'pull' } });

      const attempts: number[] = [];
      for (let i = 0; i < 5; i++) {
        const [message] = await pullAtLeast(subscription.name, 1);
        attempts.push(message!.deliveryAttempt!);
        // A nack: ModifyAckDeadline(0), as the client's nack() sends.
        await subscriber.modifyAckDeadline({
          subscription: subscription.name,
          ackIds: [message!.ackId!],
          ackDeadlineSeconds: 0,
        });
      }
      assert.deepEqual(attempts, [1, 2, 3, 4, 5]);
      if (lane.kind === 'gcloud') {
        // Measured difference: the official emulator forwards to the dead-letter topic only when a
        // later pull on the source subscription would deliver the message a sixth time; the real
        // service forwards on its own after the last failed attempt.
        const [response] = await subscriber.pull({ subscription: subscription.name, maxMessages: 1 }, { timeout: 5_000 });
        assert.equal(response.receivedMessages?.length ?? 0, 0);
      }

      const [dead] = await pullAtLeast(deadLetterSub.name, 1);
      assert.equal(Buffer.from(dead!.message!.data as Uint8Array).toString(), 'keeps failing');
      const attributes = dead!.message!.attributes!;
      assert.equal(attributes.kind, 'pull');
      assert.equal(attributes.CloudPubSubDeadLetterSourceDeliveryCount, '5');
      assert.equal(attributes.CloudPubSubDeadLetterSourceSubscription, subscription.name.split('/').pop());
      assert.equal(attributes.CloudPubSubDeadLetterSourceSubscriptionProject, lane.projectId);
      assert.ok(attributes.CloudPubSubDeadLetterSourceTopicPublishTime);
    });

    it('delivers through streaming pull (subscription.on("message")) and redelivers a nacked message', async () => {
      const topic = await createTopic();
      const [subscription] = await topic.createSubscription(unique('sub'));
      const seen: string[] = [];
      const done = new Promise<void>((resolve, reject) => {
        subscription.on('error', reject);
        subscription.on('message', (message: Message) => {
          const data = message.data.toString();
          seen.push(data);
          if (data === 'nack me' && seen.filter((d) => d === data).length === 1) return message.nack();
          message.ack();
          if (seen.length === 4) resolve();
        });
      });
      await Promise.all(['one', 'two', 'nack me'].map((d) => topic.publishMessage({ data: Buffer.from(d) })));
      await done;
      await subscription.close();
      assert.deepEqual([...seen].sort(), ['nack me', 'nack me', 'one', 'two']);
    });
  });

  describe('push', () => {
    async function pushSubscription(
      url: string,
      options: Parameters<Topic['createSubscription']>[1] = {},
    ): Promise<{ topic: Topic; subscription: Subscription }> {
      const topic = await createTopic();
      const [subscription] = await topic.createSubscription(unique('push'), { pushConfig: { pushEndpoint: url }, ...options });
      return { topic, subscription };
    }

    it('pushes the JSON envelope and treats 200 and 204 as acks', async () => {
      const push = await endpoint((_request, index) => (index === 0 ? 200 : 204));
      const { topic, subscription } = await pushSubscription(push.url, {
        retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 1 } },
      });
      const firstId = await topic.publishMessage({ data: Buffer.from('first'), attributes: { a: '1' } });
      await push.waitFor(1);
      await topic.publishMessage({ data: Buffer.from('second') });
      await push.waitFor(2);
      // A nack would come back within the 0–1 s backoff; give it twice that.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(push.requests.length, 2, 'an acked push must not be redelivered');

      const envelope = push.requests[0]!.body as { message: Record<string, unknown>; subscription: string };
      assert.equal(envelope.subscription, subscription.name);
      assert.equal(Buffer.from(envelope.message.data as string, 'base64').toString(), 'first');
      assert.deepEqual(envelope.message.attributes, { a: '1' });
      assert.equal(envelope.message.messageId, firstId);
      assert.equal(envelope.message.message_id, firstId);
      assert.ok(!Number.isNaN(Date.parse(envelope.message.publishTime as string)));
      assert.equal(envelope.message.publish_time, envelope.message.publishTime);
      assert.match(String(push.requests[0]!.headers['content-type']), /application\/json/);
    });

    it('treats 202 as an ack on the Node-native emulator (as the real service), as a nack on the official one', async () => {
      const push = await endpoint(() => 202);
      const { topic } = await pushSubscription(push.url, {
        retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 1 } },
      });
      await topic.publishMessage({ data: Buffer.from('accepted') });
      await push.waitFor(1);
      if (lane.kind === 'gcloud') {
        // Measured difference: the official emulator redelivers after a 202.
        await push.waitFor(2);
      } else {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        assert.equal(push.requests.length, 1);
      }
    });

    it('redelivers a push answered 500 with backoff, then dead-letters it with the four attributes', async function () {
      this.timeout(30_000);
      const failing = await endpoint(() => 500);
      const recorder = await endpoint(() => 204);
      const deadLetter = await createTopic('dead');
      await deadLetter.createSubscription(unique('dead-push'), { pushConfig: { pushEndpoint: recorder.url } });
      const { topic, subscription } = await pushSubscription(failing.url, {
        deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: 5 },
        retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 1 } },
      });
      const messageId = await topic.publishMessage({ data: Buffer.from('doomed'), attributes: { url: 'https://example.com/a' } });

      const [dead] = await recorder.waitFor(1, 25_000);
      assert.equal(failing.requests.length, 5, 'five attempts, then the dead-letter topic');
      for (const request of failing.requests) {
        assert.equal((request.body as { message: { messageId: string } }).message.messageId, messageId);
      }
      // Backoff: the wait grows between the first and the last retry (min 0 s, max 1 s).
      const gaps = failing.requests.slice(1).map((request, i) => request.at - failing.requests[i]!.at);
      assert.ok(gaps[3]! > gaps[0]!, `retry gaps should grow: ${gaps.join(', ')} ms`);
      const attemptsSeen = failing.requests.map((r) => (r.body as { deliveryAttempt?: number }).deliveryAttempt);
      if (lane.kind === 'gcloud') {
        // Measured difference: the official emulator omits deliveryAttempt; the real service sends it.
        assert.deepEqual(attemptsSeen, [undefined, undefined, undefined, undefined, undefined]);
      } else {
        assert.deepEqual(attemptsSeen, [1, 2, 3, 4, 5]);
      }

      const envelope = dead!.body as { message: { data: string; attributes: Record<string, string> } };
      assert.equal(Buffer.from(envelope.message.data, 'base64').toString(), 'doomed');
      const attributes = envelope.message.attributes;
      assert.equal(attributes.url, 'https://example.com/a');
      assert.equal(attributes.CloudPubSubDeadLetterSourceDeliveryCount, '5');
      assert.equal(attributes.CloudPubSubDeadLetterSourceSubscription, subscription.name.split('/').pop());
      assert.equal(attributes.CloudPubSubDeadLetterSourceSubscriptionProject, lane.projectId);
      assert.ok(attributes.CloudPubSubDeadLetterSourceTopicPublishTime);
    });
  });
});
