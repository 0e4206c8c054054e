import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { PubSub, v1 } from '@google-cloud/pubsub';
import { startPubSubEmulator, type PubSubEmulator } from '../../../emulator/pubsub';
import { grpcError } from '../../helpers/grpc';

type ClientOptions = ConstructorParameters<typeof v1.SubscriberClient>[0];

/**
 * Node-native behaviour of seek, snapshots, ordering and schemas that the conformance suites don't
 * cover because the official emulator lacks it or answers differently.
 */
describe('Node-native Pub/Sub emulator: seek, snapshots, ordering and schemas in detail', () => {
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let subscriber: v1.SubscriberClient;
  let schemas: v1.SchemaServiceClient;
  const projectId = 'emulator-detail';
  const project = `projects/${projectId}`;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${++counter}`;

  before(async () => {
    emulator = await startPubSubEmulator();
    pubsub = new PubSub({ projectId, apiEndpoint: emulator.host });
    subscriber = new v1.SubscriberClient(pubsub.options as ClientOptions);
    schemas = new v1.SchemaServiceClient(pubsub.options as ClientOptions);
  });
  after(async () => {
    await subscriber.close();
    await schemas.close();
    await pubsub.close();
    await emulator.stop();
  });

  const pull = async (subscription: string, max = 10) => {
    const [response] = await subscriber.pull({ subscription, maxMessages: max });
    return response.receivedMessages ?? [];
  };
  const text = (r: { message?: { data?: Uint8Array | string | null } | null }) =>
    Buffer.from(r.message!.data as Uint8Array).toString();

  it('ends outstanding leases on seek: an ack for the old lease does not ack the redelivery', async () => {
    const [topic] = await pubsub.createTopic(unique('topic'));
    const [subscription] = await topic.createSubscription(unique('sub'));
    const before = new Date(Date.now() - 1_000);
    await topic.publishMessage({ data: Buffer.from('leased') });
    const [first] = await pull(subscription.name);
    await subscription.seek(before);
    await subscriber.acknowledge({ subscription: subscription.name, ackIds: [first!.ackId!] });
    const [again] = await pull(subscription.name);
    assert.equal(text(again!), 'leased');
    assert.notEqual(again!.ackId, first!.ackId);
  });

  it('updates a snapshot\'s expire time and refuses one in the past or another field', async () => {
    const [topic] = await pubsub.createTopic(unique('topic'));
    const [subscription] = await topic.createSubscription(unique('sub'));
    const [snapshot] = await subscription.createSnapshot(unique('snap'));
    const expire = Math.floor(Date.now() / 1000) + 3600;
    const [updated] = await subscriber.updateSnapshot({
      snapshot: { name: snapshot.name, expireTime: { seconds: expire } },
      updateMask: { paths: ['expire_time'] },
    });
    assert.equal(Number(updated.expireTime!.seconds), expire);
    await assert.rejects(
      subscriber.updateSnapshot({ snapshot: { name: snapshot.name, expireTime: { seconds: 1 } }, updateMask: { paths: ['expire_time'] } }),
      grpcError(status.INVALID_ARGUMENT, /future/),
    );
    await assert.rejects(
      subscriber.updateSnapshot({ snapshot: { name: snapshot.name, topic: 'x' }, updateMask: { paths: ['topic'] } }),
      grpcError(status.INVALID_ARGUMENT, /topic/),
    );
  });

  it('goes on with an ordering key once its failing message is dead-lettered', async function () {
    this.timeout(20_000);
    const [topic] = await pubsub.createTopic(unique('ordered'));
    topic.setPublishOptions({ messageOrdering: true });
    const [deadLetter] = await pubsub.createTopic(unique('dead'));
    const [deadLetters] = await deadLetter.createSubscription(unique('dead-sub'));
    const [subscription] = await topic.createSubscription(unique('sub'), {
      enableMessageOrdering: true,
      deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 0 } },
    });
    await Promise.all(['poison', 'next'].map((data) => topic.publishMessage({ data: Buffer.from(data), orderingKey: 'k' })));
    const seen: string[] = [];
    while (!seen.includes('next')) {
      // One at a time: a batch would hold "next" too, whose lease the nack of "poison" takes back.
      const received = await pull(subscription.name, 1);
      for (const r of received) {
        seen.push(text(r));
        const ack = text(r) === 'next';
        if (ack) await subscriber.acknowledge({ subscription: subscription.name, ackIds: [r.ackId!] });
        else await subscriber.modifyAckDeadline({ subscription: subscription.name, ackIds: [r.ackId!], ackDeadlineSeconds: 0 });
      }
    }
    // Five attempts of "poison", then "next", which never overtook it.
    assert.deepEqual(seen.filter((d) => d === 'poison').length, 5);
    assert.equal(seen[seen.length - 1], 'next');
    const [dead] = await pull(deadLetters.name);
    assert.equal(text(dead!), 'poison');
  });

  it('validates published messages only against the revisions in the topic\'s range', async () => {
    const id = unique('article');
    const name = `${project}/schemas/${id}`;
    const old = { type: 'record', name: 'A', fields: [{ name: 'url', type: 'string' }] };
    const renamed = { type: 'record', name: 'A', fields: [{ name: 'link', type: 'string' }] };
    const [v1] = await schemas.createSchema({ parent: project, schemaId: id, schema: { type: 'AVRO', definition: JSON.stringify(old) } });
    const [v2] = await schemas.commitSchema({ name, schema: { name, type: 'AVRO', definition: JSON.stringify(renamed) } });
    const [any] = await pubsub.createTopic({ name: unique('topic'), schemaSettings: { schema: name, encoding: 'JSON' } });
    const [latestOnly] = await pubsub.createTopic({
      name: unique('topic'),
      schemaSettings: { schema: name, encoding: 'JSON', firstRevisionId: v2.revisionId! },
    });
    const oldMessage = { data: Buffer.from(JSON.stringify({ url: 'u' })) };
    await any.publishMessage(oldMessage);
    await assert.rejects(latestOnly.publishMessage(oldMessage), grpcError(status.INVALID_ARGUMENT, /does not match/));
    await latestOnly.publishMessage({ data: Buffer.from(JSON.stringify({ link: 'l' })) });
    await assert.rejects(
      pubsub.createTopic({ name: unique('topic'), schemaSettings: { schema: name, encoding: 'JSON', lastRevisionId: 'deadbeef' } }),
      grpcError(status.INVALID_ARGUMENT, /last_revision_id/),
    );
    assert.notEqual(v1.revisionId, v2.revisionId);
  });

  it('forgets schemas and snapshots on reset()', async () => {
    const id = unique('article');
    await schemas.createSchema({ parent: project, schemaId: id, schema: { type: 'AVRO', definition: '"string"' } });
    const [topic] = await pubsub.createTopic(unique('topic'));
    const [subscription] = await topic.createSubscription(unique('sub'));
    await subscription.createSnapshot(unique('snap'));
    emulator.reset();
    const [listed] = await schemas.listSchemas({ parent: project }, { autoPaginate: false });
    assert.deepEqual(listed, []);
    const [snapshots] = await subscriber.listSnapshots({ project }, { autoPaginate: false });
    assert.deepEqual(snapshots, []);
  });
});
