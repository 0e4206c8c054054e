/**
 * The SSRF guard through the whole pipeline, as deployed (private networks not allowed): URLs whose
 * names resolve to the metadata server, private, unique-local, mapped and loopback addresses are
 * submitted through the API, pushed through Pub/Sub and fetched by the real fetcher. Each must end
 * `failed` with `blocked-address` without one connection attempt; literal ones are refused by the
 * API itself. Names are answered by an injected resolver, and the injected connector refuses every
 * address but the one test site, so nothing can leave the machine even if the guard were broken; a
 * counting listener on 127.0.0.1 takes whatever is meant for loopback.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { fetchPage } from '../../functions/src/fetch';
import { fence, PUBLIC_V4, startSite, tableResolver, type Fence, type Site } from '../functions/fetch/helpers';
import { forEachLane } from '../helpers/lanes';

/** Names that resolve to an address the guard must refuse. */
const BLOCKED_NAMES: Record<string, string[]> = {
  'metadata-alias.example': ['169.254.169.254'],
  'ten.example': ['10.0.0.5'],
  'home.example': ['192.168.1.10'],
  'ula.example': ['fd00::1234'],
  'mapped.example': ['::ffff:127.0.0.1'],
  'loop.example': ['127.0.0.1'],
  // One bad address among good ones is enough: the connection could go to any of them.
  'mixed.example': [PUBLIC_V4, '10.0.0.1'],
};

/** Literal hosts the API refuses at submission. */
const LITERALS = [
  'http://169.254.169.254/computeMetadata/v1/',
  'http://10.0.0.1/',
  'http://192.168.0.1/admin',
  'http://[fd00::1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://127.0.0.1/',
  'http://0x7f.1/',
  'http://2130706433/',
  'http://[::1]/',
  'http://metadata.google.internal/computeMetadata/v1/',
];

/** Paths on the allowed site that redirect to a blocked destination. */
const REDIRECTS: Record<string, string> = {
  '/to-private-name': 'http://ten.example/secret',
  '/to-metadata-literal': 'http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token',
  '/to-loopback-name': 'http://loop.example/',
  '/to-mapped-literal': 'http://[::ffff:127.0.0.1]/',
};

interface PortfolioView {
  counts: { queued: number; done: number; failed: number };
  articles: Array<{ url: string; status: string; attempts: number; error?: { code: string; message: string } }>;
}

/** A TCP listener on 127.0.0.1 that only counts the connections it gets. */
async function countingListener(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

forEachLane('SSRF guard through the pipeline', (lane) => {
  let stack: LocalStack;
  let site: Site;
  let listener: Awaited<ReturnType<typeof countingListener>>;
  let fenced: Fence;
  const resolver = tableResolver({ ...BLOCKED_NAMES, 'allowed.example': [PUBLIC_V4] });

  before(async function () {
    this.timeout(60_000);
    site = await startSite((req, res) => {
      const target = REDIRECTS[req.url ?? ''];
      if (target) {
        res.writeHead(302, { location: target }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><head><title>Allowed</title></head><body><p>A page that may be fetched.</p></body></html>');
    });
    listener = await countingListener();
    fenced = fence();
    // The one public test address is the site; whatever is meant for loopback reaches the counter.
    fenced.route(PUBLIC_V4, site.port);
    for (const loopback of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) fenced.route(loopback, listener.port);
    stack = await startLocalStack({
      running: lane.emulators(),
      apiPort: 0,
      env: { ALLOW_PRIVATE_NETWORKS: 'false' },
      backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      deps: {
        log: () => undefined,
        fetchPage: (url, options) => fetchPage(url, { ...options, resolver, connector: fenced.connector }),
      },
    });
  });

  after(async function () {
    this.timeout(30_000);
    await stack?.stop();
    await site?.close();
    await listener?.close();
  });

  it('fails names resolving to blocked addresses and redirects to them with blocked-address, refuses literals, and never connects', async function () {
    this.timeout(60_000);
    const named = Object.keys(BLOCKED_NAMES).map((name) => `http://${name}/latest/meta-data/`);
    const redirected = Object.keys(REDIRECTS).map((path) => `http://allowed.example${path}`);
    const allowed = 'http://allowed.example/article';
    const response = await fetch(`${stack.apiUrl}/portfolios`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ urls: [...named, ...redirected, ...LITERALS, allowed] }),
    });
    const submitted = (await response.json()) as { accepted: number; rejected: Array<{ url: string; code: string }>; statusUrl: string };
    assert.equal(response.status, 202, JSON.stringify(submitted));
    assert.deepEqual(submitted.rejected.map((entry) => [entry.url, entry.code]), LITERALS.map((url) => [url, 'blocked-address']));
    assert.equal(submitted.accepted, named.length + redirected.length + 1);

    let view: PortfolioView;
    const deadline = Date.now() + 30_000;
    for (;;) {
      view = (await (await fetch(submitted.statusUrl)).json()) as PortfolioView;
      if (view.counts.queued === 0) break;
      if (Date.now() > deadline) throw new Error(`still queued: ${JSON.stringify(view.counts)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const byUrl = new Map(view.articles.map((article) => [article.url, article]));
    for (const url of [...named, ...redirected]) {
      const article = byUrl.get(url);
      assert.equal(article?.status, 'failed', `${url}: ${JSON.stringify(article)}`);
      assert.equal(article?.error?.code, 'blocked-address', `${url}: ${JSON.stringify(article?.error)}`);
      assert.equal(article?.attempts, 1, `${url}: a blocked address is final, not retried`);
    }
    assert.equal(byUrl.get(allowed)?.status, 'done', 'the allowed site is fetched through the same connector');

    assert.deepEqual(fenced.violations, [], 'no connection to a non-loopback address other than the test site');
    assert.equal(listener.connections(), 0, 'no connection reached loopback');
    // The only connections made: the allowed page and the redirecting pages, each to the test site.
    assert.ok(fenced.attempts.length >= 1);
    assert.deepEqual([...new Set(fenced.attempts)], [`${PUBLIC_V4}:80`]);
    assert.equal(site.requests.length, redirected.length + 1);
    // Every blocked name was looked up (and refused after resolving, not connected to).
    for (const name of Object.keys(BLOCKED_NAMES)) assert.ok(resolver.lookups.includes(name), `${name} was resolved`);
  });
});
