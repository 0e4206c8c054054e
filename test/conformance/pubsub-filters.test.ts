import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { grpcError } from '../helpers/grpc';
import { forEachLane } from '../helpers/lanes';
import { laneClients, text } from './lane-clients';

/**
 * Subscription filters, as the real service documents them: parsed at create (INVALID_ARGUMENT naming
 * the position of an error), non-matching messages acknowledged automatically, never delivered and
 * never dead-lettered. The official emulator stores filters but neither validates nor applies them
 * (measured, 0.8.20): its lane asserts that, so a change on either side shows.
 */
forEachLane('Pub/Sub conformance: filters', (lane) => {
  const c = laneClients(lane);
  const appliesFilters = lane.kind === 'embedded';

  it('rejects a filter that does not parse, naming the column of the error', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const bad = ['attributes.kind = ', 'attributes.a = "x" AND attributes.b = "y" OR attributes:c', 'attributes.kind == "a"'];
    for (const filter of bad) {
      const created = topic.createSubscription(c.unique('sub'), { filter });
      if (appliesFilters) await assert.rejects(created, grpcError(status.INVALID_ARGUMENT, /filter.*column \d+/));
      else await created;
    }
    if (appliesFilters) {
      await assert.rejects(
        topic.createSubscription(c.unique('sub'), { filter: 'attributes.kind = ' }),
        grpcError(status.INVALID_ARGUMENT, /column 19/),
      );
    }
  });

  it('delivers only matching messages (=, !=, :, hasPrefix, NOT, AND, OR, parentheses)', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const filter =
      '(attributes.kind = "article" OR hasPrefix(attributes.kind, "feed-")) AND NOT attributes:skip AND attributes."lang code" != "xx"';
    const [subscription] = await topic.createSubscription(c.unique('sub'), { filter });
    const [metadata] = await subscription.getMetadata();
    assert.equal(metadata.filter, filter);
    const messages: Array<[string, Record<string, string>, boolean]> = [
      ['article', { kind: 'article' }, true],
      ['feed', { kind: 'feed-rss', 'lang code': 'en' }, true],
      ['page', { kind: 'page' }, false],
      ['skipped', { kind: 'article', skip: '' }, false],
      ['xx', { kind: 'article', 'lang code': 'xx' }, false],
      ['no attributes of interest', { other: '1' }, false],
    ];
    for (const [data, attributes] of messages) await topic.publishMessage({ data: Buffer.from(data), attributes });
    const expected = messages.filter(([, , match]) => match || !appliesFilters).map(([data]) => data);
    const received = await c.pullAtLeast(subscription.name, expected.length);
    await c.subscriber.acknowledge({ subscription: subscription.name, ackIds: received.map((r) => r.ackId!) });
    received.push(...(await c.pullFor(subscription.name, 1_000)));
    assert.deepEqual(received.map(text).sort(), expected.sort());
  });

  it('never dead-letters a message the filter dropped', async function () {
    if (!appliesFilters) this.skip(); // the official emulator delivers every message (see above)
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [deadLetter] = await c.pubsub.createTopic(c.unique('dead'));
    const [deadLetters] = await deadLetter.createSubscription(c.unique('dead-sub'));
    const [subscription] = await topic.createSubscription(c.unique('sub'), {
      filter: 'attributes:wanted',
      deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: 5 },
    });
    await topic.publishMessage({ data: Buffer.from('unwanted') });
    await topic.publishMessage({ data: Buffer.from('wanted'), attributes: { wanted: 'yes' } });
    const [first] = await c.pullAtLeast(subscription.name, 1);
    assert.equal(text(first!), 'wanted');
    assert.equal(first!.deliveryAttempt, 1);
    await c.subscriber.acknowledge({ subscription: subscription.name, ackIds: [first!.ackId!] });
    assert.deepEqual(await c.pullFor(subscription.name, 1_000), []);
    assert.deepEqual(await c.pullFor(deadLetters.name, 500), []);
  });

  it('keeps the filter fixed after create: UpdateSubscription of filter is INVALID_ARGUMENT', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [subscription] = await topic.createSubscription(c.unique('sub'), { filter: 'attributes:a' });
    await assert.rejects(
      c.subscriber.updateSubscription({
        subscription: { name: subscription.name, filter: 'attributes:b' },
        updateMask: { paths: ['filter'] },
      }),
      grpcError(status.INVALID_ARGUMENT, /filter/),
    );
  });
});
