/**
 * The pipeline end to end on the local stack: the API, Pub/Sub push to the scraper, retries with
 * backoff, the dead-letter recorder and Firestore, on each emulator lane, scraping a loopback site.
 */
import assert from 'node:assert/strict';
import { memoryLogger } from '../../functions/src/log';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { startArticleSite, type ArticleSite } from '../helpers/articleSite';
import { forEachLane } from '../helpers/lanes';
import { keyOf } from '../helpers/urls';

const MAX_DELIVERY_ATTEMPTS = 5;

interface ArticleEntry {
  url: string;
  status: 'queued' | 'done' | 'failed';
  title: string | null;
  publishedAt: string | null;
  outline: string[];
  readingTimeMinutes: number | null;
  bannerImage: string | null;
  attempts: number;
  error?: { code: string; message: string };
}

interface PortfolioView {
  portfolioId: string;
  counts: { queued: number; done: number; failed: number };
  articles: ArticleEntry[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

forEachLane('pipeline end to end', (lane) => {
  let stack: LocalStack;
  let site: ArticleSite;
  const logs = memoryLogger();
  const articleUrls: string[] = [];
  let portfolio: PortfolioView;
  let accepted: number;

  async function api(path: string, init?: RequestInit): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const response = await fetch(`${stack.apiUrl}${path}`, init);
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  }

  function submit(urls: string[]): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return api('/portfolios', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls }) });
  }

  /** Polls the status endpoint until nothing is queued (or the deadline passes). */
  async function settled(portfolioId: string, deadlineMs: number): Promise<PortfolioView> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const { status, body } = await api(`/portfolios/${portfolioId}`);
      assert.equal(status, 200);
      if (body.counts.queued === 0 || Date.now() > deadline) return body as PortfolioView;
      await sleep(200);
    }
  }

  function entry(url: string): ArticleEntry {
    const found = portfolio.articles.find((article) => article.url === url);
    assert.ok(found, `${url} is in the portfolio`);
    return found;
  }

  before(async function () {
    this.timeout(90_000);
    site = await startArticleSite({ flakyFailures: 2 });
    stack = await startLocalStack({
      running: lane.emulators(),
      apiPort: 0,
      backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      maxDeliveryAttempts: MAX_DELIVERY_ATTEMPTS,
      deps: { log: logs.log },
    });
    for (let n = 1; n <= 20; n++) articleUrls.push(site.url('articles', n));
    const urls = [...articleUrls, site.url('missing', 1), site.url('broken', 1), site.url('flaky', 1)];
    const response = await submit(urls);
    assert.equal(response.status, 202, JSON.stringify(response.body));
    accepted = response.body.accepted;
    portfolio = await settled(response.body.portfolioId, 60_000);
  });

  after(async () => {
    await stack?.stop();
    await site?.stop();
  });

  it('scrapes all 20 articles with the right fields', () => {
    for (const [index, url] of articleUrls.entries()) {
      const article = entry(url);
      const expected = site.expected(index + 1);
      assert.equal(article.status, 'done', `${url}: ${JSON.stringify(article.error)}`);
      assert.equal(article.title, expected.title);
      assert.equal(new Date(article.publishedAt ?? '').getTime(), new Date(expected.publishedAt).getTime());
      assert.deepEqual(article.outline, expected.outline);
      assert.equal(article.readingTimeMinutes, expected.readingTimeMinutes);
      assert.equal(article.bannerImage, expected.bannerImage);
      assert.equal(article.attempts, 1);
    }
  });

  it('fails a 404 page after one attempt', () => {
    const missing = entry(site.url('missing', 1));
    assert.equal(missing.status, 'failed');
    assert.equal(missing.error?.code, 'http-404');
    assert.equal(missing.attempts, 1);
    assert.equal(site.hits.get('/missing/1'), 1);
  });

  it(`dead-letters an always-500 URL after exactly ${MAX_DELIVERY_ATTEMPTS} attempts, naming the last error`, () => {
    const broken = entry(site.url('broken', 1));
    assert.equal(broken.status, 'failed');
    assert.equal(broken.error?.code, 'dead-lettered');
    assert.match(broken.error?.message ?? '', /http-500/);
    assert.equal(broken.attempts, MAX_DELIVERY_ATTEMPTS);
    assert.equal(site.hits.get('/broken/1'), MAX_DELIVERY_ATTEMPTS);
  });

  it('retries a URL that fails twice, then records it done with 3 attempts', () => {
    const flaky = entry(site.url('flaky', 1));
    assert.equal(flaky.status, 'done');
    assert.equal(flaky.attempts, 3);
    assert.equal(flaky.title, site.expected(1).title);
  });

  it('reports counts that add up to what was accepted', () => {
    assert.equal(accepted, 23);
    assert.deepEqual(portfolio.counts, { queued: 0, done: 21, failed: 2 });
    assert.equal(portfolio.articles.length, accepted);
  });

  it('keeps one document per URL across portfolios and duplicate deliveries', async function () {
    this.timeout(30_000);
    const url = site.url('articles', 100);
    const [first, second] = await Promise.all([submit([url]), submit([`${url}?utm_source=newsletter`, articleUrls[0] ?? ''])]);
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    const settledFirst = await settled(first.body.portfolioId, 20_000);
    const settledSecond = await settled(second.body.portfolioId, 20_000);
    assert.equal(settledFirst.articles[0]?.status, 'done');
    assert.deepEqual(settledSecond.counts, { queued: 0, done: 2, failed: 0 });
    // articles/1 was done minutes ago: inside the freshness window, so not fetched again.
    assert.equal(site.hits.get('/articles/1'), 1);

    const articles = stack.clients.firestore.collection('articles');
    const copies = await articles.where('canonicalUrl', '==', url).get();
    assert.equal(copies.size, 1);
    const before = (await articles.doc(keyOf(url)).get()).data();
    const hitsBefore = site.hits.get('/articles/100');

    // A duplicate delivery of an already-handled message, straight to the push endpoint.
    const data = Buffer.from(JSON.stringify({ url, canonicalUrl: url, urlKey: keyOf(url), portfolioId: first.body.portfolioId })).toString('base64');
    const envelope = { subscription: 'duplicate', message: { data, messageId: 'duplicate-1', publishTime: new Date(Date.now() - 60_000).toISOString(), attributes: {} } };
    const duplicate = await fetch(stack.scraperUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...stack.pushHeaders('scrapeArticle') }, body: JSON.stringify(envelope) });
    assert.equal(duplicate.status, 204);
    assert.deepEqual((await articles.doc(keyOf(url)).get()).data(), before);
    assert.equal(site.hits.get('/articles/100'), hitsBefore);
  });

  it('reads one article by URL', async () => {
    const url = articleUrls[1] ?? '';
    const { status, body } = await api(`/articles?url=${encodeURIComponent(`${url}#comments`)}`);
    assert.equal(status, 200);
    assert.equal(body.status, 'done');
    assert.equal(body.title, site.expected(2).title);
    assert.equal(body.finalUrl, url);
    assert.equal((await api(`/articles?url=${encodeURIComponent(site.url('articles', 999))}`)).status, 404);
  });

  it('answers malformed bodies, wrong content types and too many URLs with the right 4xx, in JSON', async () => {
    const post = (body: string, contentType?: string) => api('/portfolios', { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });
    const cases: [Promise<{ status: number; body: any }>, number, string][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      [post('{"urls": "https://example.com"}', 'application/json'), 400, 'invalid-body'],
      [post('<urls/>', 'application/xml'), 415, 'unsupported-media-type'],
      [post(JSON.stringify({ urls: Array.from({ length: 1001 }, (_, index) => `https://example.com/${index}`) }), 'application/json'), 413, 'too-many-urls'],
      [post('gopher://example.com/\nnot a url', 'text/plain'), 400, 'no-acceptable-urls'],
      [api('/portfolios/unknown-portfolio'), 404, 'portfolio-not-found'],
      [api('/portfolios', { method: 'PUT' }), 405, 'method-not-allowed'],
    ];
    for (const [request, status, code] of cases) {
      const response = await request;
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.equal(response.body.error.code, code);
    }
  });

  it('logs one structured line per delivery', () => {
    const deliveries = logs.entries.filter((line) => line.messageId !== undefined);
    assert.ok(deliveries.length >= 23);
    for (const line of deliveries) {
      assert.ok(['INFO', 'WARNING', 'ERROR'].includes(line.severity));
      assert.match(line.urlKey ?? '', /^[0-9a-f]{64}$/);
      assert.equal(typeof line.durationMs, 'number');
      assert.ok(line.outcome);
    }
  });
});
