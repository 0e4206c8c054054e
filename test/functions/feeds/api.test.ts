import assert from 'node:assert/strict';
import { serveApi, type ApiHarness } from '../apiHarness';

describe('POST /portfolios with feeds (through functions-framework)', () => {
  let harness: ApiHarness;
  beforeEach(async () => {
    harness = await serveApi();
  });
  afterEach(() => harness.close());

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked field by field
  const post = async (body: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${harness.base}/portfolios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: await response.json() };
  };

  it('accepts feeds alone, records them queued and sends one feed message for the portfolio', async () => {
    const response = await post({ feeds: ['https://blog.example/feed.xml', 'https://blog.example/sitemap.xml?utm_source=x', 'ftp://blog.example/x'] });
    assert.equal(response.status, 202);
    assert.deepEqual([response.body.accepted, response.body.feeds, response.body.rejected.map((r: { url: string }) => r.url)], [0, 2, ['ftp://blog.example/x']]);
    assert.equal(harness.published.length, 1);
    assert.deepEqual(harness.published[0], { url: 'https://blog.example/feed.xml', canonicalUrl: 'https://blog.example/feed.xml', urlKey: harness.published[0]!.urlKey, portfolioId: response.body.portfolioId, kind: 'feed' });
    const view = (await (await fetch(`${harness.base}/portfolios/${response.body.portfolioId}`)).json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(
      view.feeds.map((feed: { url: string; status: string }) => [feed.url, feed.status]),
      [
        ['https://blog.example/feed.xml', 'queued'],
        ['https://blog.example/sitemap.xml?utm_source=x', 'queued'],
      ],
    );
    assert.deepEqual(view.counts, { queued: 0, done: 0, failed: 0 });
  });

  it('accepts feeds with urls, and keeps the answer and view of a URL-only portfolio as before', async () => {
    const both = await post({ urls: ['https://blog.example/a'], feeds: ['https://blog.example/feed.xml'] });
    assert.deepEqual([both.status, both.body.accepted, both.body.feeds], [202, 1, 1]);
    const plain = await post({ urls: ['https://blog.example/b'] });
    assert.equal(plain.body.feeds, undefined);
    const view = (await (await fetch(`${harness.base}/portfolios/${plain.body.portfolioId}`)).json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(view.feeds, undefined);
  });

  it('refuses bad feed lists with a clear code', async () => {
    assert.equal((await post({ feeds: 'https://blog.example/feed.xml' })).body.error.code, 'invalid-body');
    assert.equal((await post({ feeds: [3] })).body.error.code, 'invalid-body');
    assert.equal((await post({ feeds: [] })).body.error.code, 'no-urls');
    const many = await post({ feeds: Array.from({ length: 21 }, (_, i) => `https://blog.example/${i}.xml`) });
    assert.deepEqual([many.status, many.body.error.code], [413, 'too-many-feeds']);
    const none = await post({ feeds: ['ftp://blog.example/feed'] });
    assert.deepEqual([none.status, none.body.error.code], [400, 'no-acceptable-urls']);
  });

  it('answers 503 naming every feed when the feed message could not be queued, and drops them', async () => {
    harness.failPublishFor.add('https://blog.example/feed.xml');
    const response = await post({ urls: ['https://blog.example/a'], feeds: ['https://blog.example/feed.xml', 'https://blog.example/other.xml'] });
    assert.equal(response.status, 503);
    assert.deepEqual(response.body.error.details.notQueued, ['https://blog.example/feed.xml', 'https://blog.example/other.xml']);
    const portfolio = harness.store.portfolios.get(response.body.error.details.portfolioId);
    assert.deepEqual(portfolio?.feeds, []);
  });
});
