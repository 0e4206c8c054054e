/**
 * The web pages over HTTP (functions-framework, MemoryStore): what a browser is sent. The browser
 * itself is exercised in browser.test.ts.
 */
import assert from 'node:assert/strict';
import { FIRST_CHUNK } from '../../functions/src/portfolio/chunks';
import { queuedArticle, type ArticleRecord } from '../../functions/src/store';
import { serveApi, type ApiHarness } from '../functions/apiHarness';
import { urlMessage } from '../functions/fakes';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const at = new Date('2026-03-01T11:00:00Z');

describe('web pages (through functions-framework)', () => {
  let harness: ApiHarness;
  beforeEach(async () => {
    harness = await serveApi({ MAX_URLS_PER_REQUEST: '3' });
  });
  afterEach(() => harness.close());

  const page = (path: string, init: RequestInit = {}) => fetch(`${harness.base}${path}`, { redirect: 'manual', ...init, headers: { accept: BROWSER_ACCEPT, ...(init.headers as Record<string, string>) } });
  const postForm = (fields: Record<string, string>) =>
    page('/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });

  function seed(records: Partial<ArticleRecord>[]): void {
    const messages = records.map((_r, index) => urlMessage(`https://example.com/${index}`, 'p1'));
    harness.store.portfolios.set('p1', { portfolioId: 'p1', name: 'Ada <b>Lovelace</b>', createdAt: at, urls: messages.map((m) => m.canonicalUrl), urlKeys: messages.map((m) => m.urlKey) });
    messages.forEach((message, index) => harness.store.articles.set(message.urlKey, { ...queuedArticle(message, at), ...records[index] }));
  }

  it('serves the form with a strict Content-Security-Policy and no inline script', async () => {
    const response = await page('/');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const text = await response.text();
    assert.match(text, /<textarea id="urls" name="urls"/);
    assert.match(text, /<label for="urls">/);
    // Every script is an external file of ours, and it is served.
    const scripts = [...text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length > 0);
    for (const [, attributes, content] of scripts) {
      assert.equal(content, '', 'no inline script');
      const src = /src="([^"]+)"/.exec(attributes ?? '')?.[1];
      assert.ok(src, 'has a src');
      const asset = await fetch(`${harness.base}${src}`);
      assert.equal(asset.status, 200);
      assert.match(asset.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    }
    assert.equal((await fetch(`${harness.base}/static/nothing.js`)).status, 404);
  });

  it('creates a portfolio from the form and sends the browser to its page', async () => {
    const response = await postForm({ urls: 'https://example.com/a\r\nhttps://example.com/b\r\n', name: 'Mine' });
    assert.equal(response.status, 303);
    const location = response.headers.get('location') ?? '';
    assert.match(location, /^\/portfolios\/portfolio\d+$/);
    assert.equal(harness.published.length, 2);
    const portfolio = harness.store.portfolios.get(location.split('/').pop()!);
    assert.equal(portfolio?.name, 'Mine');
  });

  it('shows refusals in words next to the form, keeping what was typed, with each rejected URL and why', async () => {
    const none = await postForm({ urls: 'ftp://example.com/x\nnot a url', name: 'n' });
    assert.equal(none.status, 400);
    const text = await none.text();
    assert.match(text, /None of the URLs can be scraped/);
    assert.match(text, /<code>ftp:\/\/example\.com\/x<\/code>: [^<]*http/);
    assert.match(text, /<code>not a url<\/code>: /);
    assert.match(text, /<textarea id="urls" name="urls"[^>]*>ftp:\/\/example\.com\/x\nnot a url<\/textarea>/);
    const many = await postForm({ urls: 'https://a.example/1\nhttps://a.example/2\nhttps://a.example/3\nhttps://a.example/4' });
    assert.equal(many.status, 413);
    assert.match(await many.text(), /contains 4 URLs; at most 3 are accepted/);
    const empty = await postForm({ urls: '  \n' });
    assert.equal(empty.status, 400);
    assert.match(await empty.text(), /contains no URLs/);
    // Some accepted, some not: the page says which were refused and links on.
    const some = await postForm({ urls: 'https://example.com/ok\nftp://example.com/no' });
    assert.equal(some.status, 201);
    const listed = await some.text();
    assert.match(listed, /<code>ftp:\/\/example\.com\/no<\/code>/);
    assert.match(listed, /href="\/portfolios\/portfolio\d+" id="open-portfolio"/);
  });

  it('renders the portfolio for a browser and JSON for curl, escaping everything scraped', async () => {
    seed([
      { status: 'done', title: '<script>alert("x")</script> & co', outline: ['<img src=x onerror=alert(1)>'], readingTimeMinutes: 5, publishedAt: '2026-01-05T09:30:00Z', bannerImage: 'https://example.com/b.png', attempts: 1 },
      { status: 'failed', attempts: 1, lastError: { code: 'http-404', message: 'Not found <b>here</b>.', at } },
      { status: 'queued', attempts: 2, bannerImage: 'javascript:alert(1)' },
    ]);
    const response = await page('/portfolios/p1', { headers: { 'accept-language': 'de-DE,de;q=0.9' } });
    assert.equal(response.status, 200);
    assert.ok(response.headers.get('content-security-policy'));
    assert.match(response.headers.get('vary') ?? '', /Accept/);
    const text = await response.text();
    assert.doesNotMatch(text, /<script>alert/);
    assert.match(text, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; co/);
    assert.match(text, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(text, /<h1>Ada &lt;b&gt;Lovelace&lt;\/b&gt;<\/h1>/);
    assert.match(text, /Not found &lt;b&gt;here&lt;\/b&gt;\./);
    assert.match(text, /The page was not found \(404\)/, 'the reason in words');
    assert.match(text, /<time datetime="2026-01-05T09:30:00Z" data-format="date">05\.01\.2026<\/time>/, 'the date in the reader’s language');
    assert.match(text, /5 min read/);
    assert.match(text, /<img src="https:\/\/example\.com\/b\.png" alt="Banner image of &lt;script&gt;[^"]*" width="640" height="360" loading="lazy"/);
    assert.doesNotMatch(text, /javascript:/, 'a javascript: banner is never an image source');
    assert.equal((text.match(/class="placeholder" role="img" aria-label="No banner image"/g) ?? []).length, 2);
    assert.match(text, /Pending<\/span> Being read \(attempt 2\)/);
    // The counts are written after the last card (the page is streamed); the script copies them to the top.
    assert.match(text, /<p class="tally" id="tally">1 done · 1 pending · 1 failed, of 3\.<\/p>/);
    assert.match(text, /<progress id="progress" max="3"/);
    assert.match(text, /data-total="3"/);
    assert.match(text, /<form method="post" action="\/portfolios\/p1\/retry" class="retry">/);
    assert.match(text, /href="\/portfolios\/p1\.csv" download/);
    const json = await fetch(`${harness.base}/portfolios/p1`);
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    const curl = await fetch(`${harness.base}/portfolios/p1`, { headers: { accept: '*/*' } });
    assert.match(curl.headers.get('content-type') ?? '', /^application\/json/);
  });

  it('streams a large portfolio: the head and the first cards before the other reads, every card once and in order', async () => {
    const count = FIRST_CHUNK * 5 + 7;
    seed(Array.from({ length: count }, (_v, n) => ({ status: n % 10 === 3 ? ('failed' as const) : ('done' as const), title: `Article ${n}`, attempts: 1, ...(n % 10 === 3 ? { lastError: { code: 'http-404', message: 'gone', at } } : {}) })));
    const reads: number[] = [];
    const getArticles = harness.store.getArticles.bind(harness.store);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    harness.store.getArticles = async (urlKeys) => {
      reads.push(urlKeys.length);
      // The second chunk waits until the test has seen the first part of the page arrive.
      if (reads.length === 2) await held;
      return getArticles(urlKeys);
    };
    const response = await page('/portfolios/p1');
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes(`data-index="${FIRST_CHUNK - 1}"`)) text += decoder.decode((await reader.read()).value, { stream: true });
    assert.match(text, /<h1>Ada &lt;b&gt;Lovelace&lt;\/b&gt;<\/h1>/, 'the head came with the first cards');
    assert.doesNotMatch(text, new RegExp(`data-index="${FIRST_CHUNK}"`), 'nothing of the second chunk yet');
    release();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value, { stream: true });
    const indexes = [...text.matchAll(/<li class="card \w+" data-index="(\d+)"/g)].map((match) => Number(match[1]));
    assert.deepEqual(indexes, Array.from({ length: count }, (_v, n) => n));
    assert.equal(reads.reduce((sum, n) => sum + n, 0), count, 'each article read once');
    assert.ok(reads.length > 2, 'in several chunks');
    const failed = Array.from({ length: count }, (_v, n) => n).filter((n) => n % 10 === 3).length;
    assert.match(text, new RegExp(`<p class="tally" id="tally">${count - failed} done · 0 pending · ${failed} failed, of ${count}\\.</p>`));
  });

  it('ends a streamed page with what could not be read when a later read fails, counting those as pending', async () => {
    const count = FIRST_CHUNK * 2;
    seed(Array.from({ length: count }, (_v, n) => ({ status: 'done' as const, title: `Article ${n}`, attempts: 1 })));
    const getArticles = harness.store.getArticles.bind(harness.store);
    let calls = 0;
    harness.store.getArticles = async (urlKeys) => {
      calls += 1;
      if (calls === 2) throw Object.assign(new Error('14 UNAVAILABLE: no connection'), { code: 14 });
      return getArticles(urlKeys);
    };
    const response = await page('/portfolios/p1');
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.equal((text.match(/<li class="card /g) ?? []).length, FIRST_CHUNK);
    assert.match(text, /<p class="notice" role="alert" id="read-problem">Some articles could not be read just now \(The database is unavailable/);
    assert.match(text, new RegExp(`${FIRST_CHUNK} done · ${count - FIRST_CHUNK} pending · 0 failed, of ${count}\\.`));
    assert.match(text, /<\/html>\n$/, 'the page is complete');
    // The first read failing is still an error page, before anything was sent.
    calls = 1;
    const failing = await page('/portfolios/p1');
    assert.equal(failing.status, 503);
    assert.match(await failing.text(), /The database is unavailable/);
  });

  it('lists the feeds with what they yielded or why they failed', async () => {
    seed([{ status: 'done', title: 'A', attempts: 1 }]);
    const portfolio = harness.store.portfolios.get('p1')!;
    const feed = (url: string) => ({ url, canonicalUrl: url, urlKey: url, kind: 'rss', found: 0, addedKeys: [] as string[], skipped: 0, error: null, terminalAt: null, queuedAt: null });
    harness.store.portfolios.set('p1', {
      ...portfolio,
      feeds: [
        { ...feed('https://blog.example/feed.xml'), status: 'done', found: 12, addedKeys: ['a', 'b'] },
        { ...feed('https://blog.example/gone.xml'), status: 'failed', error: { code: 'http-404', message: 'gone <b>!</b>', at } },
        { ...feed('https://blog.example/slow.xml'), status: 'queued' },
      ],
    });
    const text = await (await page('/portfolios/p1')).text();
    assert.match(text, /<code>https:\/\/blog\.example\/feed\.xml<\/code>: found 12 articles, added 2\./);
    assert.match(text, /<code>https:\/\/blog\.example\/gone\.xml<\/code>: <span class="badge failed">Failed<\/span> The page was not found \(404\)[^<]* gone &lt;b&gt;!&lt;\/b&gt;/);
    assert.match(text, /<code>https:\/\/blog\.example\/slow\.xml<\/code>: <span class="badge pending">Pending<\/span>/);
  });

  it('answers an unknown portfolio with a page in words, and the retry form with a redirect back', async () => {
    const missing = await page('/portfolios/nope');
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /<h1>Not found<\/h1><p>There is no portfolio nope\.<\/p>/);
    seed([{ status: 'failed', attempts: 1, lastError: { code: 'http-404', message: 'Not found.', at } }]);
    const retry = await page('/portfolios/p1/retry', { method: 'POST' });
    assert.equal(retry.status, 303);
    assert.equal(retry.headers.get('location'), '/portfolios/p1');
    assert.equal(harness.published.length, 1);
    // Its errors are pages in words too, never JSON: a portfolio that is gone, a queue that is down.
    const gone = await page('/portfolios/nope/retry', { method: 'POST' });
    assert.equal(gone.status, 404);
    assert.match(gone.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await gone.text(), /<h1>Not found<\/h1><p>There is no portfolio nope\.<\/p>/);
    harness.failPublishFor.add(harness.store.portfolios.get('p1')!.urls[0]!);
    harness.store.articles.set(harness.store.portfolios.get('p1')!.urlKeys[0]!, { ...harness.store.articles.get(harness.store.portfolios.get('p1')!.urlKeys[0]!)!, terminalAt: new Date('2026-03-01T13:00:00Z') });
    const down = await page('/portfolios/p1/retry', { method: 'POST' });
    assert.equal(down.status, 503);
    assert.equal(down.headers.get('retry-after'), '5');
    assert.match(await down.text(), /<h1>Something went wrong<\/h1><p>1 of 1 failed articles could not be queued again/);
    // A JSON client keeps the JSON error.
    const json = await fetch(`${harness.base}/portfolios/nope/retry`, { method: 'POST' });
    assert.equal(json.status, 404);
    assert.equal(((await json.json()) as { error: { code: string } }).error.code, 'portfolio-not-found');
  });
});
