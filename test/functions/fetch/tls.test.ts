import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FetchError, fetchPage, type FetchOptions } from '../../../functions/src/fetch';
import { fence, tableResolver, type Fence } from './helpers';

// A test CA (key discarded) and a certificate for articles.test only, valid until 2126.
const fixtures = path.join(__dirname, '../../fixtures/tls');
const ca = readFileSync(path.join(fixtures, 'ca.crt'), 'utf8');

describe('fetchPage over TLS with pinned addresses', () => {
  let server: https.Server;
  let port: number;
  let net: Fence;
  before(async () => {
    server = https.createServer({ key: readFileSync(path.join(fixtures, 'site.key')), cert: readFileSync(path.join(fixtures, 'site.crt')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<title>secure</title>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    net = fence({ ca });
  });
  afterEach(() => assert.deepEqual(net.violations, []));

  const options = (): Partial<FetchOptions> => ({
    connector: net.connector,
    allowPrivateNetworks: true,
    resolver: tableResolver({ 'articles.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] }),
    timeoutMs: 3_000,
  });

  it('connects to the checked address and verifies the certificate against the host name', async () => {
    const page = await fetchPage(`https://articles.test:${port}/`, options());
    assert.equal(page.html, '<title>secure</title>');
    assert.deepEqual(net.attempts, [`127.0.0.1:${port}`]);
  });

  it('refuses a certificate that does not name the host, as a connection failure', async () => {
    for (const url of [`https://other.test:${port}/`, `https://127.0.0.1:${port}/`]) {
      const error = await fetchPage(url, options()).catch((e: unknown) => e);
      assert.ok(error instanceof FetchError);
      assert.equal(error.code, 'connection-failed', url);
      assert.match(error.message, /ERR_TLS_CERT_ALTNAME_INVALID/, url);
    }
  });
});
