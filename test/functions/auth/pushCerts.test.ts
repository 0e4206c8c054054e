import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cachedCerts, CertsUnavailableError } from '../../../functions/src/auth/pushCerts';

describe('push token keys: the cached JWKS fetch', () => {
  let server: Server;
  let url = '';
  let hits = 0;
  let status = 200;
  let kids = ['k1'];
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });

  before(async () => {
    server = createServer((_req, res) => {
      hits += 1;
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' }).end(JSON.stringify({ keys: kids.map((kid) => ({ ...jwk, kid, use: 'sig' })) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/certs`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    hits = 0;
    status = 200;
    kids = ['k1'];
  });

  it('fetches once for known kids, again for an unknown kid at most every 30 s, and again after max-age', async () => {
    let now = 1_000_000;
    const lookup = cachedCerts(url, () => now);
    assert.ok(await lookup('k1'));
    assert.ok(await lookup('k1'));
    assert.equal(hits, 1);
    now += 29_000;
    kids = ['k1', 'k2'];
    assert.equal(await lookup('k2'), undefined, 'an unknown kid within 30 s of the last fetch fetches nothing');
    assert.equal(hits, 1);
    now += 1_000;
    assert.ok(await lookup('k2'), 'a rotated key is found once 30 s have passed');
    assert.equal(hits, 2);
    now += 3_600_000;
    assert.ok(await lookup('k1'));
    assert.equal(hits, 3);
  });

  it('says the keys are unavailable (a retry) when the first fetch fails, and keeps expired keys when a later one does', async () => {
    let now = 0;
    status = 500;
    await assert.rejects(cachedCerts(url, () => now)('k1'), CertsUnavailableError);
    status = 200;
    const lookup = cachedCerts(url, () => now);
    assert.ok(await lookup('k1'));
    status = 503;
    now += 2 * 3_600_000;
    assert.ok(await lookup('k1'));
  });
});
