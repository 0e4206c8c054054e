import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as functionsFramework from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createApi, type PublishUrls } from '../../functions/src/api';
import { parseConfig } from '../../functions/src/config';
import { memoryLogger } from '../../functions/src/log';
import type { UrlMessage } from '../../functions/src/scrape';
import { queuedArticle } from '../../functions/src/store';
import { rawRequest } from '../helpers/rawHttp';
import { grpcError, MemoryStore, urlMessage } from './fakes';

interface Harness {
  store: MemoryStore;
  published: UrlMessage[];
  entries: ReturnType<typeof memoryLogger>['entries'];
  failPublishFor: Set<string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked field by field
  request(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: any }>;
}

let counter = 0;

describe('api (through functions-framework)', () => {
  let server: Server;
  let harness: Harness;

  beforeEach(async () => {
    const store = new MemoryStore();
    const published: UrlMessage[] = [];
    const failPublishFor = new Set<string>();
    const { log, entries } = memoryLogger();
    const publishUrls: PublishUrls = async (messages) =>
      Promise.allSettled(
        messages.map(async (message) => {
          if (failPublishFor.has(message.canonicalUrl)) throw new Error('publish failed: UNAVAILABLE');
          published.push(message);
          return `id-${published.length}`;
        }),
      );
    const api = createApi({
      config: parseConfig({ MAX_URLS_PER_REQUEST: '5', MAX_REQUEST_BYTES: '2048' }),
      store,
      publishUrls,
      blockReason: (host) => (host === '10.0.0.1' ? 'private address' : null),
      now: () => new Date('2026-03-01T12:00:00Z'),
      log,
    });
    const name = `api-unit-${++counter}`;
    functionsFramework.http(name, api);
    server = getTestServer(name);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    harness = {
      store,
      published,
      entries,
      failPublishFor,
      async request(path, init) {
        const response = await fetch(`${base}${path}`, init);
        const text = await response.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text for the assertion message
        }
        return { status: response.status, headers: response.headers, body };
      },
    };
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const postJson = (body: unknown) => harness.request('/portfolios', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('accepts a portfolio: canonical duplicates dropped, bad URLs listed, one message per URL', async () => {
    const response = await postJson({
      name: 'My writing',
      urls: ['https://example.com/a?utm_source=x', 'https://EXAMPLE.com/a', 'https://example.com/b', 'ftp://example.com/c', 'http://10.0.0.1/'],
    });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const { portfolioId, accepted, duplicates, rejected, statusUrl } = response.body;
    assert.equal(accepted, 2);
    assert.equal(duplicates, 1);
    assert.deepEqual(rejected.map((entry: { url: string; code: string }) => [entry.url, entry.code]), [
      ['ftp://example.com/c', 'unsupported-scheme'],
      ['http://10.0.0.1/', 'blocked-address'],
    ]);
    // Relative without PUBLIC_BASE_URL: the request's Host is never trusted to build it.
    assert.equal(statusUrl, `/portfolios/${portfolioId}`);
    assert.deepEqual(harness.published.map((message) => message.canonicalUrl), ['https://example.com/a', 'https://example.com/b']);
    assert.ok(harness.published.every((message) => message.portfolioId === portfolioId));
    const portfolio = harness.store.portfolios.get(portfolioId);
    assert.equal(portfolio?.name, 'My writing');
    assert.deepEqual(portfolio?.urls, ['https://example.com/a', 'https://example.com/b']);
    assert.deepEqual(portfolio?.urlKeys, harness.published.map((message) => message.urlKey));
  });

  it('accepts text/plain, one URL per line, ignoring blank lines and # comments', async () => {
    const response = await harness.request('/portfolios', { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '# mine\r\nhttps://example.com/a\n\n  https://example.com/b  \n' });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal(response.body.accepted, 2);
  });

  it('does not touch a done article when it is submitted again', async () => {
    const message = urlMessage('https://example.com/a');
    harness.store.articles.set(message.urlKey, { ...queuedArticle(message, new Date()), status: 'done', title: 'Kept' });
    const response = await postJson({ urls: ['https://example.com/a'] });
    assert.equal(response.status, 202);
    assert.equal(harness.store.articles.get(message.urlKey)?.status, 'done');
    const status = await harness.request(`/portfolios/${response.body.portfolioId}`);
    assert.deepEqual(status.body.counts, { queued: 0, done: 1, failed: 0 });
  });

  it('answers wrong content types with 415 and malformed submissions with 400, in JSON', async () => {
    const cases: [RequestInit, number, string][] = [
      [{ method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<urls/>' }, 415, 'unsupported-media-type'],
      [{ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'urls=https://example.com' }, 415, 'unsupported-media-type'],
      [{ method: 'POST', body: new Uint8Array([1, 2, 3]) }, 415, 'unsupported-media-type'],
      [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '["https://example.com/a"]' }, 400, 'invalid-body'],
      [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"url": "https://example.com/a"}' }, 400, 'invalid-body'],
      [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"urls": ["https://example.com/a", 7]}' }, 400, 'invalid-body'],
      [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"urls": ["https://example.com/a"], "name": 3}' }, 400, 'invalid-body'],
      // An unpaired surrogate is valid JSON but not text; Firestore would refuse it (a 503 before).
      [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"urls": ["https://example.com/a"], "name": "a\\ud800"}' }, 400, 'invalid-body'],
      [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"urls": []}' }, 400, 'no-urls'],
      [{ method: 'POST', headers: { 'content-type': 'text/plain' }, body: '\n\n' }, 400, 'no-urls'],
      [{ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'nonsense\nmailto:me@example.com' }, 400, 'no-acceptable-urls'],
    ];
    for (const [init, status, code] of cases) {
      const response = await harness.request('/portfolios', init);
      assert.equal(response.status, status, `${String(init.body)} → ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, code);
      assert.ok(response.body.error.message.length > 10);
      assert.doesNotMatch(JSON.stringify(response.body), /at .*\.ts:\d+/);
    }
    assert.equal(harness.published.length, 0);
  });

  it('reads a POST with no body at all by its declared type: JSON is invalid-body, text is no-urls', async () => {
    // fetch() always sends Content-Length: 0; curl -X POST -H 'content-type: …' sends no body at all.
    const port = (server.address() as AddressInfo).port;
    for (const [contentType, status, code] of [['application/json', 400, 'invalid-body'], ['text/plain; charset=utf-8', 400, 'no-urls'], ['application/xml', 415, 'unsupported-media-type']] as const) {
      const response = await rawRequest(port, { method: 'POST', path: '/portfolios', headers: { 'content-type': contentType }, body: null });
      assert.equal(response.status, status, contentType);
      assert.equal(JSON.parse(response.body.toString('utf8')).error.code, code);
    }
  });

  it('answers 413 for too many URLs or too many bytes', async () => {
    const many = await postJson({ urls: Array.from({ length: 6 }, (_, index) => `https://example.com/${index}`) });
    assert.equal(many.status, 413);
    assert.equal(many.body.error.code, 'too-many-urls');
    assert.deepEqual(many.body.error.details, { maxUrls: 5, received: 6 });
    const big = await postJson({ urls: [`https://example.com/${'x'.repeat(3000)}`] });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'body-too-large');
    assert.equal(harness.published.length, 0);
  });

  it('leaves malformed JSON to functions-framework, which answers 400 before the function runs', async () => {
    // Express logs the parse error to stderr; keep the test output clean.
    const consoleError = console.error;
    console.error = () => undefined;
    let response;
    try {
      response = await harness.request('/portfolios', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"urls": [' });
    } finally {
      console.error = consoleError;
    }
    assert.equal(response.status, 400);
    assert.equal(harness.entries.length, 0);
  });

  it('answers 503 naming the URLs that could not be queued, and keeps the ones that were', async () => {
    harness.failPublishFor.add('https://example.com/b');
    const response = await postJson({ urls: ['https://example.com/a', 'https://example.com/b'] });
    assert.equal(response.status, 503);
    assert.equal(response.body.error.code, 'publish-failed');
    assert.deepEqual(response.body.error.details.notQueued, ['https://example.com/b']);
    assert.equal(response.body.error.details.queued, 1);
    const status = await harness.request(`/portfolios/${response.body.error.details.portfolioId}`);
    assert.equal(status.status, 200);
    assert.deepEqual(status.body.articles.map((entry: { url: string }) => entry.url), ['https://example.com/a']);
    assert.deepEqual(status.body.counts, { queued: 1, done: 0, failed: 0 });
  });

  it('answers 503 when the portfolio cannot be recorded', async () => {
    harness.store.failNext(grpcError(14, 'UNAVAILABLE'));
    const response = await postJson({ urls: ['https://example.com/a'] });
    assert.equal(response.status, 503);
    assert.equal(response.body.error.code, 'storage-unavailable');
    assert.equal(response.headers.get('retry-after'), '5');
    assert.equal(harness.store.portfolios.size, 0);
  });

  it('reports a portfolio with per-article state and counts that add up', async () => {
    const submitted = await postJson({ urls: ['https://example.com/a', 'https://example.com/b', 'https://example.com/c'] });
    const at = new Date('2026-03-01T12:01:00Z');
    const [a, b] = ['https://example.com/a', 'https://example.com/b'].map((url) => urlMessage(url));
    assert.ok(a && b);
    harness.store.articles.set(a.urlKey, { ...queuedArticle(a, at), status: 'done', title: 'A', outline: ['Intro'], readingTimeMinutes: 4, attempts: 1 });
    harness.store.articles.set(b.urlKey, { ...queuedArticle(b, at), status: 'failed', attempts: 1, lastError: { code: 'http-404', message: 'Not found.', at } });
    const response = await harness.request(`/portfolios/${submitted.body.portfolioId}`);
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.counts, { queued: 1, done: 1, failed: 1 });
    assert.equal(response.body.createdAt, '2026-03-01T12:00:00.000Z');
    const [doneView, failedView, queuedView] = response.body.articles;
    assert.deepEqual(doneView, { url: 'https://example.com/a', status: 'done', title: 'A', publishedAt: null, authors: [], outline: ['Intro'], readingTimeMinutes: 4, bannerImage: null, attempts: 1, nextAttemptAt: null, waitingFor: null });
    assert.deepEqual(failedView.error, { code: 'http-404', message: 'Not found.', at: at.toISOString() });
    assert.equal(queuedView.status, 'queued');
    assert.equal(queuedView.error, undefined);
    // A URL that waits says until when and for what.
    const c = urlMessage('https://example.com/c');
    const until = new Date('2026-03-01T12:04:00Z');
    harness.store.articles.set(c.urlKey, { ...queuedArticle(c, at), attempts: 1, nextAttemptAt: until, waitingFor: 'example.com' });
    const waiting = (await harness.request(`/portfolios/${submitted.body.portfolioId}`)).body.articles[2];
    assert.equal(waiting.nextAttemptAt, until.toISOString());
    assert.equal(waiting.waitingFor, 'example.com');
  });

  it('reads one article by any spelling of its URL', async () => {
    const message = urlMessage('https://example.com/a');
    harness.store.articles.set(message.urlKey, queuedArticle(message, new Date('2026-03-01T12:00:00Z')));
    const found = await harness.request(`/articles?url=${encodeURIComponent('https://Example.com/a?utm_medium=email#x')}`);
    assert.equal(found.status, 200);
    assert.equal(found.body.canonicalUrl, 'https://example.com/a');
    assert.equal(found.body.status, 'queued');
    assert.match(found.body.urlKey, /^[0-9a-f]{64}$/);
    const missing = await harness.request(`/articles?url=${encodeURIComponent('https://example.com/other')}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'article-not-found');
    const bad = await harness.request('/articles?url=ftp%3A%2F%2Fexample.com');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'unsupported-scheme');
    assert.equal((await harness.request('/articles')).body.error.code, 'missing-url');
  });

  it('answers unknown paths with 404, wrong methods with 405 and Allow, and /healthz with 200', async () => {
    assert.equal((await harness.request('/healthz')).status, 200);
    const unknown = await harness.request('/nothing-here');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not-found');
    const noPortfolio = await harness.request('/portfolios/doesNotExist');
    assert.equal(noPortfolio.status, 404);
    assert.equal(noPortfolio.body.error.code, 'portfolio-not-found');
    const wrongMethod = await harness.request('/portfolios', { method: 'GET' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    assert.equal((await harness.request('/portfolios/x', { method: 'DELETE' })).status, 405);
  });
});
