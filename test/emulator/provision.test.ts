import assert from 'node:assert/strict';
import { provisionTopology, topologyNames } from '../../emulator/provision';
import { forEachLane } from '../helpers/lanes';

forEachLane('provisionTopology', (lane) => {
  it('creates both topics and both push subscriptions with the dead-letter and retry policies', async () => {
    const { pubsub } = lane.clients();
    const names = topologyNames('prov');
    const endpoints = { scraper: 'http://127.0.0.1:9/scrape', deadLetter: 'http://127.0.0.1:9/dead' };
    const options = {
      pubsub,
      names,
      pushEndpoints: endpoints,
      backoff: { minimumBackoffSeconds: 1, maximumBackoffSeconds: 5 },
      maxDeliveryAttempts: 7,
      ackDeadlineSeconds: 90,
    };
    await provisionTopology(options);
    // Idempotent: a second run (a restarted stack) succeeds and keeps the settings.
    await provisionTopology(options);

    const [push] = await pubsub.subscription(names.pushSubscription).getMetadata();
    assert.equal(push.topic, `projects/${lane.projectId}/topics/${names.topic}`);
    assert.equal(push.pushConfig?.pushEndpoint, endpoints.scraper);
    assert.equal(push.ackDeadlineSeconds, 90);
    assert.equal(push.deadLetterPolicy?.deadLetterTopic, `projects/${lane.projectId}/topics/${names.deadLetterTopic}`);
    assert.equal(push.deadLetterPolicy?.maxDeliveryAttempts, 7);
    assert.equal(Number(push.retryPolicy?.minimumBackoff?.seconds), 1);
    assert.equal(Number(push.retryPolicy?.maximumBackoff?.seconds), 5);

    const [dead] = await pubsub.subscription(names.deadLetterSubscription).getMetadata();
    assert.equal(dead.topic, `projects/${lane.projectId}/topics/${names.deadLetterTopic}`);
    assert.equal(dead.pushConfig?.pushEndpoint, endpoints.deadLetter);
    assert.equal(dead.deadLetterPolicy ?? null, null);
  });
});
