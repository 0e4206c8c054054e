import assert from 'node:assert/strict';
import { ConfigError, EXTRACT_AND_WRITE_RESERVE_MS, parseConfig } from '../../functions/src/config';
import { topology } from '../../functions/src/topology';

describe('parseConfig', () => {
  it('gives safe defaults for an empty environment', () => {
    const config = parseConfig({});
    assert.equal(config.fetch.allowPrivateNetworks, false);
    assert.deepEqual(config.fetch.allowedPorts, [80, 443]);
    assert.equal(config.fetch.maxBytes, 5 * 1024 * 1024);
    assert.equal(config.api.maxUrls, 1000);
    assert.equal(config.freshnessWindowMs, 24 * 3_600_000);
    assert.equal(config.topic, topology.topic);
    assert.equal(config.emulators, 'auto');
  });

  it('reads overrides', () => {
    const config = parseConfig({ ALLOW_PRIVATE_NETWORKS: 'true', FETCH_ALLOWED_PORTS: '80, 8080', MAX_URLS_PER_REQUEST: '10', EMULATORS: 'embedded' });
    assert.equal(config.fetch.allowPrivateNetworks, true);
    assert.deepEqual(config.fetch.allowedPorts, [80, 8080]);
    assert.equal(config.api.maxUrls, 10);
    assert.equal(config.emulators, 'embedded');
  });

  it('reads PUBLIC_BASE_URL as an http(s) base without a trailing slash, and refuses anything else', () => {
    assert.equal(parseConfig({}).api.publicBaseUrl, null);
    assert.equal(parseConfig({ PUBLIC_BASE_URL: 'https://europe-west1-p.cloudfunctions.net/api/' }).api.publicBaseUrl, 'https://europe-west1-p.cloudfunctions.net/api');
    for (const bad of ['javascript://evil.example/', 'ftp://x.example', 'https://u:p@x.example', 'https://x.example/?a=1', 'not a url']) {
      assert.throws(() => parseConfig({ PUBLIC_BASE_URL: bad }), /PUBLIC_BASE_URL: expected an http\(s\) URL/, bad);
    }
  });

  it('names the variable and the allowed values when a value is bad', () => {
    assert.throws(() => parseConfig({ EMULATORS: 'docker' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.variable, 'EMULATORS');
      assert.match(error.message, /auto, gcloud, embedded/);
      return true;
    });
    assert.throws(() => parseConfig({ FETCH_MAX_BYTES: '-1' }), /FETCH_MAX_BYTES/);
    assert.throws(() => parseConfig({ ALLOW_PRIVATE_NETWORKS: 'maybe' }), /ALLOW_PRIVATE_NETWORKS: expected true or false/);
  });

  it('keeps the ack deadline above the scraper timeout, and the scraper timeout above the fetch deadline', () => {
    assert.ok(topology.ackDeadlineSeconds > topology.scraperTimeoutSeconds);
    const { fetch } = parseConfig({});
    assert.ok(topology.scraperTimeoutSeconds * 1000 >= fetch.hostWaitTimeoutMs + fetch.timeoutMs + EXTRACT_AND_WRITE_RESERVE_MS);
  });

  it('keeps the host-slot wait plus the fetch deadline inside the scraper timeout', () => {
    assert.equal(parseConfig({ FETCH_HOST_WAIT_TIMEOUT_MS: '5000' }).fetch.hostWaitTimeoutMs, 5_000);
    assert.equal(parseConfig({ FETCH_HOST_WAIT_TIMEOUT_MS: '0', FETCH_TIMEOUT_MS: '50000' }).fetch.hostWaitTimeoutMs, 0);
    assert.throws(() => parseConfig({ FETCH_HOST_WAIT_TIMEOUT_MS: 'soon' }), /FETCH_HOST_WAIT_TIMEOUT_MS: expected a whole number/);
    assert.throws(
      () => parseConfig({ FETCH_HOST_WAIT_TIMEOUT_MS: '40000' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'FETCH_HOST_WAIT_TIMEOUT_MS' && /expected at most 30000/.test(error.message),
    );
    assert.throws(() => parseConfig({ FETCH_TIMEOUT_MS: '45000' }), /FETCH_HOST_WAIT_TIMEOUT_MS: .*FETCH_TIMEOUT_MS of 45000 ms.*at most 5000/);
  });
});
