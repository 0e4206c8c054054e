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
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { fetchPage } from '../../functions/src/fetch';
import { fence, PUBLIC_V4, startSite, tableResolver, type Fence, type Site } from '../functions/fetch/helpers';
import { forEachLane } from '../helpers/lanes';

const HOST = 'hostile.example';
const MB = 1024 * 1024;

const ARTICLE = '<!DOCTYPE html><html><head><title>A healthy article</title></head><body><article><h1>A healthy article</h1><p>Plenty of words to read here, about a river and a stone.</p></article></body></html>';

/** The hostile site's pages, by path. */
const PAGES: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/healthy': (_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(ARTICLE),
  // 200,000 unclosed nested elements (0.6 MB): quadratic for the parser.
  '/nested': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>' + '<b>'.repeat(200_000) + 'deep'),
  // 5 MB of <br>: ~1.3 million nodes, ~150 times the page's bytes once parsed.
  '/br': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>' + '<br>'.repeat(Math.floor((5 * MB - 100) / 4))),
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
  const hits = (path: string): number => site.requests.filter((req) => req.url === path).length;

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
    site = await startSite((req, res) => {
      const page = PAGES[req.url ?? ''];
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
});
