/**
 * Hostile pages and requests through the local stack (issue 14): each row of the table, served
 * by a hostile loopback site or sent straight to a function, must end `done` or `failed` with a code a
 * person can act on, after one fetch, while a healthy article submitted alongside is scraped as usual.
 *
 * The stack runs as deployed (private networks not allowed): site names are answered by an injected
 * resolver and the injected connector reaches only the test site, so nothing leaves the machine.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { fetchPage } from '../../functions/src/fetch';
import { fence, PUBLIC_V4, startSite, tableResolver, type Fence, type Site } from '../functions/fetch/helpers';
import { canonicalizeUrl } from '../../functions/src/urls';
import { forEachLane } from '../helpers/lanes';
import { rawRequest } from '../helpers/rawHttp';

const HOST = 'hostile.example';
const MB = 1024 * 1024;

const ARTICLE = '<!DOCTYPE html><html><head><title>A healthy article</title></head><body><article><h1>A healthy article</h1><p>Plenty of words to read here, about a river and a stone.</p></article></body></html>';

/** `/round`: 404 first (round 1 fails), then 503 (round 2 retries), then held until released, then the article. */
const round = { requests: 0, release: (): void => undefined };

/** The hostile site's pages, by path. */
const PAGES: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/round': (_req, res) => {
    round.requests += 1;
    if (round.requests === 1) return void res.writeHead(404).end();
    if (round.requests === 2) return void res.writeHead(503).end();
    round.release = () => res.writeHead(200, { 'content-type': 'text/html' }).end(ARTICLE);
  },
  '/healthy': (_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(ARTICLE),
  // 200,000 unclosed nested elements (0.6 MB): quadratic for the parser.
  '/nested': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>' + '<b>'.repeat(200_000) + 'deep'),
  // 5 MB of <br>: ~1.3 million nodes, ~150 times the page's bytes once parsed.
  '/br': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>' + '<br>'.repeat(Math.floor((5 * MB - 100) / 4))),
  // Within the parse budget, but a second or more of extraction: the worst an accepted page costs.
  '/slow': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<title>Slow</title>' + '<b></b>'.repeat(60_000) + 'word '.repeat(300_000)),
  // 2,000 content codings: a decoder each.
  '/codings': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': Array(2000).fill('gzip').join(',') }).end(zlib.gzipSync(ARTICLE)),
  '/empty': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(),
  // An application shell: markup, but no title and no text until a browser runs the script.
  '/textless': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><head><script src="/app.js"></script></head><body><div id="root"></div></body></html>'),
  '/refresh': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<meta http-equiv="refresh" content="0;url=/healthy">'),
  '/refresh-to-metadata': (_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<meta http-equiv="refresh" content="0; url=http://169.254.169.254/computeMetadata/v1/">'),
  // Refreshes and HTTP redirects taking turns, without end: every hop counts against FETCH_MAX_REDIRECTS.
  '/loop': (req, res) => {
    const hop = Number(new URL(req.url ?? '', 'http://x').searchParams.get('hop') ?? 0);
    if (hop % 2) res.writeHead(302, { location: `/loop?hop=${hop + 1}` }).end();
    else res.writeHead(200, { 'content-type': 'text/html' }).end(`<meta http-equiv="refresh" content="0;url=/loop?hop=${hop + 1}">`);
  },
};

interface ArticleView {
  url: string;
  status: 'queued' | 'done' | 'failed';
  title: string | null;
  attempts: number;
  error?: { code: string; message: string };
}

forEachLane('hostile pages and requests', (lane) => {
  let stack: LocalStack;
  let site: Site;
  let fenced: Fence;
  const resolver = tableResolver({ [HOST]: [PUBLIC_V4] });
  const url = (path: string): string => `http://${HOST}${path}`;
  const hits = (path: string): number => site.requests.filter((req) => (req.url ?? '').split('?')[0] === path).length;

  async function submit(urls: string[]): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const response = await fetch(`${stack.apiUrl}/portfolios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls }) });
    return { status: response.status, body: await response.json() };
  }

  /** Submits the URLs and waits until none is queued; the portfolio's articles by URL. */
  async function scrapeAll(urls: string[], timeoutMs = 40_000): Promise<Map<string, ArticleView>> {
    const submitted = await submit(urls);
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = (await (await fetch(`${stack.apiUrl}/portfolios/${submitted.body.portfolioId}`)).json()) as { counts: { queued: number }; articles: ArticleView[] };
      if (view.counts.queued === 0) return new Map(view.articles.map((article) => [article.url, article]));
      if (Date.now() > deadline) throw new Error(`still queued after ${timeoutMs} ms: ${JSON.stringify(view.articles.filter((a) => a.status === 'queued').map((a) => a.url))}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  function assertFailed(article: ArticleView | undefined, code: string, message: RegExp): void {
    assert.equal(article?.status, 'failed', JSON.stringify(article));
    assert.equal(article?.error?.code, code, JSON.stringify(article?.error));
    assert.match(article?.error?.message ?? '', message);
    assert.equal(article?.attempts, 1, 'a permanent failure is not retried');
  }

  before(async function () {
    this.timeout(60_000);
    round.requests = 0;
    site = await startSite((req, res) => {
      const page = PAGES[(req.url ?? '').split('?')[0] ?? ''];
      if (page) page(req, res);
      else res.writeHead(404).end();
    });
    fenced = fence();
    fenced.route(PUBLIC_V4, site.port);
    stack = await startLocalStack({
      running: lane.emulators(),
      apiPort: 0,
      env: { ALLOW_PRIVATE_NETWORKS: 'false' },
      backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      deps: {
        log: () => undefined,
        fetchPage: (target, options) => fetchPage(target, { ...options, resolver, connector: fenced.connector }),
      },
    });
  });

  after(async function () {
    this.timeout(30_000);
    await stack?.stop();
    await site?.close();
  });

  it('fails a page of 200,000 unclosed elements and a 5 MB page of <br> with page-too-complex after one fetch, and scrapes the healthy article beside them', async function () {
    this.timeout(60_000);
    const articles = await scrapeAll([url('/nested'), url('/br'), url('/healthy')]);
    assertFailed(articles.get(url('/nested')), 'page-too-complex', /nests so many unclosed elements .* retrying will not help/);
    assertFailed(articles.get(url('/br')), 'page-too-complex', /more than 100,000 elements/);
    assert.equal(hits('/nested'), 1);
    assert.equal(hits('/br'), 1);
    assert.equal(articles.get(url('/healthy'))?.status, 'done');
    assert.equal(articles.get(url('/healthy'))?.title, 'A healthy article');
    assert.deepEqual(fenced.violations, []);
  });

  it('scrapes a healthy article delivered while a slow page is being extracted, before that page is done', async function () {
    this.timeout(60_000);
    const slow = await submit([url('/slow')]);
    assert.equal(slow.status, 202);
    const deadline = Date.now() + 30_000;
    while (hits('/slow') === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const healthy = await scrapeAll([url('/healthy')]);
    assert.equal(healthy.get(url('/healthy'))?.status, 'done');
    const view = (await (await fetch(`${stack.apiUrl}/portfolios/${slow.body.portfolioId}`)).json()) as { articles: ArticleView[] };
    // Extraction runs off the event loop: the healthy delivery did not wait for it.
    assert.equal(view.articles[0]?.status, 'queued', 'the slow page was still being extracted');
    const finished = await scrapeAll([url('/slow')]);
    assert.equal(finished.get(url('/slow'))?.status, 'done');
  });

  it('fails a page with 2,000 content codings after one fetch, as unsupported-content-type', async function () {
    this.timeout(60_000);
    const articles = await scrapeAll([url('/codings')]);
    assertFailed(articles.get(url('/codings')), 'unsupported-content-type', /2000 content codings; at most 2 are decoded/);
    assert.equal(hits('/codings'), 1);
  });

  it('fails a 0-byte page and a page without text with empty-page, instead of storing an empty done article', async function () {
    this.timeout(60_000);
    const articles = await scrapeAll([url('/empty'), url('/textless')]);
    assertFailed(articles.get(url('/empty')), 'empty-page', /empty body/);
    assertFailed(articles.get(url('/textless')), 'empty-page', /no title and no words/);
  });

  it('follows a meta refresh like a redirect: to the page it names, through the SSRF guard, and counted in FETCH_MAX_REDIRECTS', async function () {
    this.timeout(60_000);
    const articles = await scrapeAll([url('/refresh'), url('/refresh-to-metadata'), url('/loop')]);
    const followed = articles.get(url('/refresh'));
    assert.equal(followed?.status, 'done', JSON.stringify(followed));
    assert.equal(followed?.title, 'A healthy article');
    assertFailed(articles.get(url('/refresh-to-metadata')), 'blocked-address', /169\.254\.169\.254/);
    assertFailed(articles.get(url('/loop')), 'too-many-redirects', /more than 5 times/);
    // The first request and 5 redirects, half of them refreshes; then it stops.
    assert.equal(hits('/loop'), 6);
    assert.deepEqual(fenced.violations, [], 'the refresh to the metadata server was refused before any connection');
  });

  it('refuses at submission a port outside FETCH_ALLOWED_PORTS and a metadata host name with trailing dots', async function () {
    const portUrl = `http://${HOST}:8080/healthy`;
    const metadataUrl = 'http://metadata.google.internal../computeMetadata/v1/';
    const submitted = await submit([portUrl, metadataUrl, url('/healthy')]);
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const codes = Object.fromEntries((submitted.body.rejected as Array<{ url: string; code: string; message: string }>).map((entry) => [entry.url, entry]));
    assert.equal(codes[portUrl]?.code, 'blocked-port');
    assert.match(codes[portUrl]?.message ?? '', /Port 8080 is not fetched \(allowed: 80, 443\)/);
    assert.equal(codes[metadataUrl]?.code, 'blocked-address');
    assert.match(codes[metadataUrl]?.message ?? '', /metadata server/);
    assert.equal(submitted.body.accepted, 1);
    assert.ok(!resolver.lookups.some((name) => name.startsWith('metadata')), 'the metadata name was never resolved');
  });

  it('builds statusUrl from PUBLIC_BASE_URL, never from the Host and X-Forwarded-Proto headers', async () => {
    const response = await rawRequest(Number(new URL(stack.apiUrl).port), {
      method: 'POST',
      path: '/portfolios',
      headers: { host: 'evil.example', 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'evil.example', 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ urls: [url('/healthy')] })),
    });
    assert.equal(response.status, 202, response.body.toString());
    const body = JSON.parse(response.body.toString()) as { portfolioId: string; statusUrl: string };
    // The local stack sets PUBLIC_BASE_URL to the API's own address, as infra does in production.
    assert.equal(body.statusUrl, `${stack.apiUrl}/portfolios/${body.portfolioId}`);
  });

  it('refuses a compressed request body to each of the three functions with 415 compressed-body, before anything inflates it', async function () {
    this.timeout(60_000);
    // ~5 KB of brotli that inflates to 64 MB (the 0.4 KB one inflates to 500 MB).
    const bomb = zlib.brotliCompressSync(Buffer.alloc(64 * MB, 0x20), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
    for (const target of [stack.apiUrl + '/portfolios', stack.scraperUrl + '/', stack.recorderUrl + '/']) {
      for (const [encoding, body] of [
        ['br', bomb],
        ['gzip', zlib.gzipSync(Buffer.from(JSON.stringify({ urls: [url('/healthy')] })))],
      ] as const) {
        const response = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body });
        const answer = (await response.json()) as { error?: { code: string; message: string } };
        assert.equal(response.status, 415, `${target} ${encoding}: ${JSON.stringify(answer)}`);
        assert.equal(answer.error?.code, 'compressed-body');
        assert.match(answer.error?.message ?? '', new RegExp(`Content-Encoding: ${encoding}\\) are not accepted`));
      }
    }
    // Uncompressed bodies are read as before.
    assert.equal((await submit([url('/healthy')])).status, 202);
  });

  describe('forged and late pushes', () => {
    const roundUrl = url('/round');
    const canonical = canonicalizeUrl(roundUrl);
    assert.ok(canonical.ok);
    const message = { url: roundUrl, canonicalUrl: canonical.canonicalUrl, urlKey: canonical.urlKey, portfolioId: 'forged' };

    function envelope(extra: { deliveryAttempt?: number; attributes?: Record<string, string> }): Buffer {
      const push = {
        subscription: 'projects/forged/subscriptions/forged',
        message: { data: Buffer.from(JSON.stringify(message)).toString('base64'), messageId: `forged-${Math.random()}`, publishTime: new Date().toISOString(), attributes: extra.attributes ?? {} },
        ...(extra.deliveryAttempt === undefined ? {} : { deliveryAttempt: extra.deliveryAttempt }),
      };
      return Buffer.from(JSON.stringify(push));
    }

    async function push(target: string, body: Buffer): Promise<number> {
      const signed = stack.pushHeaders(target === stack.scraperUrl ? 'scrapeArticle' : 'recordDeadLetter');
      const response = await fetch(`${target}/`, { method: 'POST', headers: { 'content-type': 'application/json', ...signed }, body });
      return response.status;
    }

    async function article(): Promise<{ status: string; attempts: number; lastError: { code: string } | null }> {
      const response = await fetch(`${stack.apiUrl}/articles?url=${encodeURIComponent(roundUrl)}`);
      assert.equal(response.status, 200);
      return (await response.json()) as { status: string; attempts: number; lastError: { code: string } | null };
    }

    async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const value = await read();
        if (done(value)) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    it('a late dead letter of an ended round does not end the newer round in flight, and counts are clamped', async function () {
      this.timeout(90_000);
      const roundOnePublished = new Date(Date.now() - 1_000).toISOString();
      // Round 1: the page is missing, the article fails.
      const first = await scrapeAll([roundUrl]);
      assert.equal(first.get(roundUrl)?.status, 'failed');
      // Round 2: submitted again; a 503 is recorded (queued again), then the redelivery is held by the site.
      assert.equal((await submit([roundUrl])).status, 202);
      await until(async () => round.requests, (count) => count >= 3, 'the held third request');
      assert.equal((await article()).status, 'queued');

      // The dead letter of round 1's message, with a forged count, arrives now.
      const status = await push(stack.recorderUrl, envelope({ attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '999999999', CloudPubSubDeadLetterSourceTopicPublishTime: roundOnePublished } }));
      assert.equal(status, 204);
      const during = await article();
      assert.equal(during.status, 'queued', `round 2 was ended by round 1's dead letter: ${JSON.stringify(during)}`);
      assert.ok(during.attempts <= 100, `attempts ${during.attempts}`);

      round.release();
      const after = await until(article, (value) => value.status !== 'queued', 'round 2 to end');
      assert.equal(after.status, 'done');

      // A dead letter never overwrites done, whatever it claims.
      assert.equal(await push(stack.recorderUrl, envelope({ attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '5' } })), 204);
      assert.equal((await article()).status, 'done');
    });

    it('stores the fetches it made, never a forged deliveryAttempt of 1e308 or dead-letter count of 999,999,999', async function () {
      this.timeout(30_000);
      const missing = url('/missing-page');
      const key = canonicalizeUrl(missing);
      assert.ok(key.ok);
      const forged = { url: missing, canonicalUrl: key.canonicalUrl, urlKey: key.urlKey, portfolioId: 'forged' };
      const body = Buffer.from(
        JSON.stringify({ message: { data: Buffer.from(JSON.stringify(forged)).toString('base64'), messageId: 'forged-attempt', publishTime: new Date().toISOString() }, deliveryAttempt: 1e308 }),
      );
      assert.equal(await push(stack.scraperUrl, body), 204);
      const response = await fetch(`${stack.apiUrl}/articles?url=${encodeURIComponent(missing)}`);
      const stored = (await response.json()) as { status: string; attempts: number; lastError: { code: string } };
      assert.equal(stored.status, 'failed');
      assert.equal(stored.lastError.code, 'http-404');
      assert.equal(stored.attempts, 1, 'attempts counts the one fetch made');

      // A dead letter claiming 999,999,999 deliveries of it: the article's round already ended, so it stays as it was.
      const deadLetterBody = JSON.parse(body.toString()) as { message: Record<string, unknown> };
      deadLetterBody.message.attributes = { CloudPubSubDeadLetterSourceDeliveryCount: '999999999' };
      delete (deadLetterBody as { deliveryAttempt?: number }).deliveryAttempt;
      assert.equal(await push(stack.recorderUrl, Buffer.from(JSON.stringify(deadLetterBody))), 204);
      const dead = (await (await fetch(`${stack.apiUrl}/articles?url=${encodeURIComponent(missing)}`)).json()) as { attempts: number; lastError: { code: string; message: string } };
      assert.equal(dead.lastError.code, 'http-404');
      assert.equal(dead.attempts, 1);
    });
  });
});
