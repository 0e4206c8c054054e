import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { grpcError } from '../helpers/grpc';
import { forEachLane } from '../helpers/lanes';
import { laneClients, text, type PubSubClients } from './lane-clients';

/**
 * Snapshots, seek and message retention, and UpdateTopic, through the official client on every lane:
 * seeking back redelivers acknowledged messages the subscription (or its topic) retains, seeking to a
 * future time purges the backlog, a snapshot brings back what was unacked when it was taken plus
 * everything published since.
 */
forEachLane('Pub/Sub conformance: snapshots, seek and retention', (lane) => {
  const c = laneClients(lane);
  const project = `projects/${lane.projectId}`;

  async function drain(clients: PubSubClients, subscription: string, count: number): Promise<string[]> {
    const received = await clients.pullAtLeast(subscription, count);
    await clients.subscriber.acknowledge({ subscription, ackIds: received.map((r) => r.ackId!) });
    return received.map(text).sort();
  }

  it('lists no snapshots before any exists (the client library cleanup call)', async () => {
    const [snapshots] = await c.subscriber.listSnapshots({ project }, { autoPaginate: false });
    assert.deepEqual(snapshots, []);
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [names] = await c.publisher.listTopicSnapshots({ topic: topic.name }, { autoPaginate: false });
    assert.deepEqual(names, []);
  });

  it('seeks back in time: retained acknowledged messages are delivered again', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [subscription] = await topic.createSubscription(c.unique('sub'), { retainAckedMessages: true });
    const before = new Date(Date.now() - 1_000);
    for (const data of ['one', 'two', 'three']) await topic.publishMessage({ data: Buffer.from(data) });
    assert.deepEqual(await drain(c, subscription.name, 3), ['one', 'three', 'two']);
    assert.deepEqual(await c.pullFor(subscription.name, 500), []);
    await subscription.seek(before);
    assert.deepEqual(await drain(c, subscription.name, 3), ['one', 'three', 'two']);
  });

  it('does not bring back acknowledged messages a subscription did not retain', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [subscription] = await topic.createSubscription(c.unique('sub'));
    const before = new Date(Date.now() - 1_000);
    await topic.publishMessage({ data: Buffer.from('acked') });
    assert.deepEqual(await drain(c, subscription.name, 1), ['acked']);
    await topic.publishMessage({ data: Buffer.from('unacked') });
    await subscription.seek(before);
    const again = await c.pullAtLeast(subscription.name, 1);
    assert.deepEqual(again.map(text), ['unacked']);
    await c.subscriber.acknowledge({ subscription: subscription.name, ackIds: again.map((r) => r.ackId!) });
    assert.deepEqual(await c.pullFor(subscription.name, 500), []);
  });

  it('seeks to a future time: the backlog is purged', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [subscription] = await topic.createSubscription(c.unique('sub'));
    for (const data of ['a', 'b']) await topic.publishMessage({ data: Buffer.from(data) });
    await subscription.seek(new Date(Date.now() + 60_000));
    assert.deepEqual(await c.pullFor(subscription.name, 1_000), []);
    // Later messages are delivered as usual.
    await topic.publishMessage({ data: Buffer.from('after') });
    assert.deepEqual(await drain(c, subscription.name, 1), ['after']);
  });

  it('creates, gets, lists and deletes a snapshot; seeking to it restores its backlog and what followed', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [subscription] = await topic.createSubscription(c.unique('sub'));
    await topic.publishMessage({ data: Buffer.from('acked before') });
    assert.deepEqual(await drain(c, subscription.name, 1), ['acked before']);
    for (const data of ['unacked 1', 'unacked 2']) await topic.publishMessage({ data: Buffer.from(data) });

    const snapshotId = c.unique('snap');
    const [snapshot] = await subscription.createSnapshot(snapshotId);
    assert.equal(snapshot.name, `${project}/snapshots/${snapshotId}`);
    const [metadata] = await c.subscriber.getSnapshot({ snapshot: snapshot.name });
    assert.equal(metadata.topic, topic.name);
    const expireMs = Number(metadata.expireTime!.seconds) * 1000;
    assert.ok(expireMs > Date.now() + 6 * 24 * 3600 * 1000 && expireMs <= Date.now() + 7 * 24 * 3600 * 1000 + 5_000);
    const [listed] = await c.subscriber.listSnapshots({ project }, { autoPaginate: false });
    assert.ok(listed.some((s) => s.name === snapshot.name));
    const [ofTopic] = await c.publisher.listTopicSnapshots({ topic: topic.name }, { autoPaginate: false });
    assert.deepEqual(ofTopic, [snapshot.name]);

    assert.deepEqual(await drain(c, subscription.name, 2), ['unacked 1', 'unacked 2']);
    await topic.publishMessage({ data: Buffer.from('published after') });
    assert.deepEqual(await drain(c, subscription.name, 1), ['published after']);

    await subscription.seek(snapshot.name);
    assert.deepEqual(await drain(c, subscription.name, 3), ['published after', 'unacked 1', 'unacked 2']);
    assert.deepEqual(await c.pullFor(subscription.name, 500), []);

    await assert.rejects(subscription.createSnapshot(snapshotId), grpcError(status.ALREADY_EXISTS));
    await c.subscriber.deleteSnapshot({ snapshot: snapshot.name });
    await assert.rejects(c.subscriber.getSnapshot({ snapshot: snapshot.name }), grpcError(status.NOT_FOUND));
    await assert.rejects(subscription.seek(snapshot.name), grpcError(status.NOT_FOUND));
  });

  it('answers seek and snapshot mistakes as the real service does', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [other] = await c.pubsub.createTopic(c.unique('other'));
    const [subscription] = await topic.createSubscription(c.unique('sub'));
    const [elsewhere] = await other.createSubscription(c.unique('sub'));
    const [snapshot] = await subscription.createSnapshot(c.unique('snap'));
    await assert.rejects(elsewhere.seek(snapshot.name), grpcError(status.FAILED_PRECONDITION));
    await assert.rejects(c.subscriber.seek({ subscription: subscription.name }), grpcError(status.INVALID_ARGUMENT));
    await assert.rejects(
      c.subscriber.createSnapshot({ name: `${project}/snapshots/${c.unique('snap')}`, subscription: `${project}/subscriptions/${c.unique('missing')}` }),
      grpcError(status.NOT_FOUND),
    );
    await assert.rejects(c.subscriber.deleteSnapshot({ snapshot: `${project}/snapshots/${c.unique('missing')}` }), grpcError(status.NOT_FOUND));
    await c.subscriber.deleteSnapshot({ snapshot: snapshot.name });
  });

  it('updates a snapshot\'s labels (UNIMPLEMENTED on the official emulator)', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [subscription] = await topic.createSubscription(c.unique('sub'));
    const [snapshot] = await subscription.createSnapshot(c.unique('snap'));
    const update = c.subscriber.updateSnapshot({
      snapshot: { name: snapshot.name, labels: { team: 'scraper' } },
      updateMask: { paths: ['labels'] },
    });
    if (lane.kind === 'gcloud') {
      await assert.rejects(update, grpcError(status.UNIMPLEMENTED, /UpdateSnapshot/));
    } else {
      const [updated] = await update;
      assert.deepEqual(updated.labels, { team: 'scraper' });
      const [metadata] = await c.subscriber.getSnapshot({ snapshot: snapshot.name });
      assert.deepEqual(metadata.labels, { team: 'scraper' });
    }
    await c.subscriber.deleteSnapshot({ snapshot: snapshot.name });
  });

  it('updates a topic with an update mask; topic retention lets a new subscription seek back', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [updated] = await c.publisher.updateTopic({
      topic: { name: topic.name, messageRetentionDuration: { seconds: 3600 } },
      updateMask: { paths: ['message_retention_duration'] },
    });
    assert.equal(Number(updated.messageRetentionDuration!.seconds), 3600);
    const [metadata] = await topic.getMetadata();
    assert.equal(Number(metadata.messageRetentionDuration!.seconds), 3600);

    const before = new Date(Date.now() - 1_000);
    const [first] = await topic.createSubscription(c.unique('sub'));
    await topic.publishMessage({ data: Buffer.from('retained by the topic') });
    assert.deepEqual(await drain(c, first.name, 1), ['retained by the topic']);
    await first.seek(before);
    assert.deepEqual(await drain(c, first.name, 1), ['retained by the topic']);

    await assert.rejects(
      c.publisher.updateTopic({ topic: { name: topic.name }, updateMask: { paths: [] } }),
      grpcError(status.INVALID_ARGUMENT),
    );
    await assert.rejects(
      c.publisher.updateTopic({ topic: { name: topic.name }, updateMask: { paths: ['name'] } }),
      grpcError(status.INVALID_ARGUMENT),
    );
    await assert.rejects(
      c.publisher.updateTopic({
        topic: { name: `${project}/topics/${c.unique('missing')}`, messageRetentionDuration: { seconds: 3600 } },
        updateMask: { paths: ['message_retention_duration'] },
      }),
      grpcError(status.NOT_FOUND),
    );
    // Labels: the real service updates them; the official emulator refuses the path (measured).
    const labels = c.publisher.updateTopic({
      topic: { name: topic.name, labels: { team: 'scraper' } },
      updateMask: { paths: ['labels'] },
    });
    if (lane.kind === 'gcloud') {
      await assert.rejects(labels, grpcError(status.INVALID_ARGUMENT, /labels/));
    } else {
      assert.deepEqual((await labels)[0].labels, { team: 'scraper' });
      assert.deepEqual((await topic.getMetadata())[0].labels, { team: 'scraper' });
    }
  });
});
