import assert from 'node:assert/strict';
import { runDeadLetterExample } from '../../emulator/examples/dead-letter';

process.env.METADATA_SERVER_DETECTION ??= 'none';

describe("README's dead-letter example (embedded Pub/Sub emulator)", () => {
  it('pushes five times to an endpoint answering 500, then puts the message on the dead-letter topic', async function () {
    this.timeout(30_000);
    const lines: string[] = [];
    const { attempts, deadLettered } = await runDeadLetterExample({ kind: 'embedded', print: (line) => lines.push(line) });
    assert.equal(attempts, 5);
    assert.equal(deadLettered.data.toString(), 'order 42');
    assert.equal(deadLettered.attributes.kind, 'order');
    assert.equal(deadLettered.attributes.CloudPubSubDeadLetterSourceDeliveryCount, '5');
    assert.equal(deadLettered.attributes.CloudPubSubDeadLetterSourceSubscription, 'orders-push');
    assert.equal(deadLettered.attributes.CloudPubSubDeadLetterSourceSubscriptionProject, 'dead-letter-demo');
    assert.ok(deadLettered.attributes.CloudPubSubDeadLetterSourceTopicPublishTime);
    // The real service (and our emulator) tell the endpoint which attempt it is.
    assert.match(lines[4] ?? '', /push attempt 5 \(deliveryAttempt in body: 5\)/);
  });
});
