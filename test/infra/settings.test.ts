import assert from 'node:assert/strict';
import { topology } from '../../functions/src/topology';
import { InfraError, readSettings, type InfraSettings } from '../../infra/settings';

function settings(app: Record<string, string> = {}, gcp: Record<string, string> = { project: 'portfolio-prod-1', region: 'europe-west1' }): InfraSettings {
  return readSettings({ app: (key) => app[key], gcp: (key) => gcp[key] });
}

function rejects(app: Record<string, string>, key: string, message: RegExp, gcp?: Record<string, string>): void {
  assert.throws(
    () => settings(app, gcp),
    (error: unknown) => {
      assert.ok(error instanceof InfraError);
      assert.equal(error.code, 'invalid-config');
      assert.equal(error.key, key);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('infra: settings', () => {
  it('defaults to the topology and a private API', () => {
    const s = settings();
    assert.equal(s.maxDeliveryAttempts, topology.maxDeliveryAttempts);
    assert.deepEqual(s.backoff, topology.productionBackoff);
    assert.equal(s.ackDeadlineSeconds, topology.ackDeadlineSeconds);
    assert.deepEqual(s.timeouts, {
      api: topology.apiTimeoutSeconds,
      scraper: topology.scraperTimeoutSeconds,
      recorder: topology.recorderTimeoutSeconds,
    });
    assert.equal(s.publicApi, false);
    assert.deepEqual(s.apiInvokers, []);
    assert.equal(s.firestoreLocation, 'europe-west1');
    assert.equal(s.sourceDir, 'dist');
    assert.deepEqual(s.functionEnv, {
      GOOGLE_CLOUD_PROJECT: 'portfolio-prod-1',
      ARTICLE_TOPIC: topology.topic,
      DELAY_TOPIC: topology.delayTopic,
      MAX_DELIVERY_ATTEMPTS: String(topology.maxDeliveryAttempts),
      FRESHNESS_WINDOW_HOURS: '24',
      NODE_ENV: 'production',
    });
  });

  it('reads every key', () => {
    const s = settings({
      maxDeliveryAttempts: '20',
      minimumBackoffSeconds: '0',
      maximumBackoffSeconds: '0',
      ackDeadlineSeconds: '600',
      scraperTimeoutSeconds: '599',
      functionMemory: '1Gi',
      functionMaxInstances: '3',
      functionConcurrency: '1',
      freshnessWindowHours: '0',
      publicApi: 'true',
      apiInvokers: 'user:ana@example.com, group:ops@example.com',
      firestoreLocation: 'eur3',
      sourceDir: '/tmp/build',
    });
    assert.equal(s.maxDeliveryAttempts, 20);
    assert.deepEqual(s.backoff, { minimumBackoffSeconds: 0, maximumBackoffSeconds: 0 });
    assert.equal(s.timeouts.scraper, 599);
    assert.equal(s.memory, '1Gi');
    for (const fn of ['api', 'scraper', 'recorder'] as const) assert.deepEqual(s.capacity[fn], { maxInstances: 3, concurrency: 1 }, fn);
    assert.equal(s.functionEnv.FRESHNESS_WINDOW_HOURS, '0');
    assert.equal(s.publicApi, true);
    assert.deepEqual(s.apiInvokers, ['user:ana@example.com', 'group:ops@example.com']);
    assert.equal(s.firestoreLocation, 'eur3');
    assert.equal(s.sourceDir, '/tmp/build');
  });

  it('names the key and the allowed values when a value is unusable', () => {
    rejects({}, 'gcp:project', /pulumi config set gcp:project/, { region: 'europe-west1' });
    rejects({}, 'gcp:region', /pulumi config set gcp:region/, { project: 'portfolio-prod-1' });
    rejects({}, 'gcp:project', /project id/, { project: 'My_Project', region: 'europe-west1' });
    rejects({ maxDeliveryAttempts: '4' }, 'maxDeliveryAttempts', /from 5 to 100/);
    rejects({ maxDeliveryAttempts: '101' }, 'maxDeliveryAttempts', /from 5 to 100/);
    rejects({ maximumBackoffSeconds: '601' }, 'maximumBackoffSeconds', /from 0 to 600/);
    rejects({ minimumBackoffSeconds: '60', maximumBackoffSeconds: '30' }, 'minimumBackoffSeconds', /must not exceed maximumBackoffSeconds/);
    rejects({ functionMemory: '3Gi' }, 'functionMemory', /one of 256Mi/);
    rejects({ functionConcurrency: '0' }, 'functionConcurrency', /from 1 to 1000/);
    rejects({ functionMaxInstances: 'ten' }, 'functionMaxInstances', /whole number/);
    rejects({ freshnessWindowHours: '-1' }, 'freshnessWindowHours', /whole number from 0/);
    rejects({ publicApi: 'yes please' }, 'publicApi', /true or false/);
    rejects({ apiInvokers: '["allUsers"]' }, 'apiInvokers', /set publicApi/);
    rejects({ apiInvokers: 'ana@example.com' }, 'apiInvokers', /user:ana@example.com/);
  });

  it('sizes each function from one plan and states the sums it implies', () => {
    const defaults = settings({});
    assert.deepEqual(defaults.capacity.scraper, { maxInstances: 10, concurrency: 16 });
    assert.deepEqual(defaults.capacity.recorder, { maxInstances: 2, concurrency: 16 });
    assert.deepEqual(defaults.capacity.sums, { deliveriesInFlight: 160, deadLettersInFlight: 32, requestsPerHost: 40, firestoreWritesPerSecondAt1s: 192 });
    const tuned = settings({ functionMaxInstances: '4', scraperConcurrency: '8', recorderMaxInstances: '1' });
    assert.deepEqual(tuned.capacity.api, { maxInstances: 4, concurrency: 16 });
    assert.deepEqual(tuned.capacity.scraper, { maxInstances: 4, concurrency: 8 });
    assert.deepEqual(tuned.capacity.recorder, { maxInstances: 1, concurrency: 16 });
    assert.deepEqual(tuned.capacity.sums, { deliveriesInFlight: 32, deadLettersInFlight: 16, requestsPerHost: 16, firestoreWritesPerSecondAt1s: 48 });
    rejects({ scraperMaxInstances: '40' }, 'scraperMaxInstances', /640 \+ 32 deliveries in flight.*above the 500\/s/);
    rejects({ recorderConcurrency: '0' }, 'recorderConcurrency', /from 1 to 1000/);
  });

  it('keeps the ack deadline above the scraper timeout, and the scraper timeout above the host-slot wait plus the fetch deadline', () => {
    rejects({ scraperTimeoutSeconds: '120' }, 'scraperTimeoutSeconds', /shorter than ackDeadlineSeconds/);
    rejects({ ackDeadlineSeconds: '30', scraperTimeoutSeconds: '25' }, 'ackDeadlineSeconds', /recorder's timeout/);
    rejects({ scraperTimeoutSeconds: '40' }, 'scraperTimeoutSeconds', /host-slot wait of 20 s plus the fetch deadline of 20 s/);
  });
});
