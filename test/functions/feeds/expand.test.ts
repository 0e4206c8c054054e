import assert from 'node:assert/strict';
import { parseConfig } from '../../../functions/src/config';
import { recordFeedDeadLetter } from '../../../functions/src/feeds/deadLetter';
import { expandFeed, type FeedDeps } from '../../../functions/src/feeds/expand';
import { queuedFeed } from '../../../functions/src/feeds/record';
import { FetchError, type FetchedPage } from '../../../functions/src/fetch/types';
import type { UrlMessage } from '../../../functions/src/scrape';
import { MemoryStore, pushBody, urlMessage } from '../fakes';
import { requeueFailedFeeds } from '../../../functions/src/portfolio/retryFeeds';

const FEED = 'https://blog.example/feed.xml';

function rss(links: string[]): string {
  return `<rss version="2.0"><channel>${links.map((link) => `<item><link>${link}</link></item>`).join('')}</channel></rss>`;
}

function page(url: string, body: string): FetchedPage {
  return { requestedUrl: url, finalUrl: url, status: 200, contentType: 'application/rss+xml', charset: 'utf-8', html: body, bytes: body.length, redirects: 0, durationMs: 1 };
}

interface Harness {
  store: MemoryStore;
  deps: FeedDeps;
  published: UrlMessage[];
  documents: Map<string, string | FetchError>;
  fetched: string[];
  failPublish: { next: number };
}

function harness(options: { maxUrls?: number; existing?: string[]; feeds?: string[] } = {}): Harness {
  const store = new MemoryStore();
  const existing = (options.existing ?? []).map((url) => urlMessage(url, 'p1'));
  const feeds = (options.feeds ?? [FEED]).map((url) => queuedFeed(urlMessage(url, 'p1'), new Date(0)));
  store.portfolios.set('p1', { portfolioId: 'p1', name: null, createdAt: new Date(0), urls: existing.map((m) => m.canonicalUrl), urlKeys: existing.map((m) => m.urlKey), feeds });
  const published: UrlMessage[] = [];
  const documents = new Map<string, string | FetchError>();
  const fetched: string[] = [];
  const failPublish = { next: 0 };
  let clock = Date.parse('2026-03-01T12:00:00Z');
  const deps: FeedDeps = {
    fetchPage: async (url, fetchOptions) => {
      fetched.push(url);
      assert.ok(fetchOptions?.accept?.mediaTypes.includes('application/rss+xml'), 'asks for feed types');
      const document = documents.get(url);
      if (document === undefined) throw new FetchError('http-404', `${url} answered HTTP 404 Not Found`, false);
      if (document instanceof FetchError) throw document;
      return page(url, document);
    },
    getPortfolio: (id) => store.getPortfolio(id),
    updatePortfolio: (id, change) => store.updatePortfolio(id, change),
    publishUrls: async (messages) =>
      Promise.allSettled(
        messages.map(async (message) => {
          if (failPublish.next > 0) {
            failPublish.next -= 1;
            throw new Error('UNAVAILABLE');
          }
          published.push(message);
          return 'id';
        }),
      ),
    blockReason: (host) => (host === '10.0.0.1' ? 'private' : null),
    now: () => new Date((clock += 1000)),
    config: parseConfig({ MAX_URLS_PER_REQUEST: String(options.maxUrls ?? 1000) }),
    portfolioUrlBytesLimit: 900_000,
  };
  return { store, deps, published, documents, fetched, failPublish };
}

function delivery(url = FEED, publishTime = new Date('2026-03-01T11:00:00Z')): Record<string, unknown> {
  return pushBody({ ...urlMessage(url, 'p1'), kind: 'feed' }, { publishTime, attributes: { kind: 'feed', portfolioId: 'p1' } });
}

describe('expandFeed', () => {
  it('adds the feed’s new articles, canonical and de-duplicated, queues each and records what it yielded', async () => {
    const h = harness({ existing: ['https://blog.example/old'] });
    h.documents.set(FEED, rss(['https://blog.example/a?utm_source=rss', 'https://blog.example/a', 'https://blog.example/old', 'http://10.0.0.1/x', 'ftp://blog.example/f', 'https://blog.example/b#top']));
    const outcome = await expandFeed(delivery(), h.deps);
    assert.equal(outcome.kind, 'done');
    const portfolio = h.store.portfolios.get('p1')!;
    assert.deepEqual(portfolio.urls, ['https://blog.example/old', 'https://blog.example/a', 'https://blog.example/b']);
    assert.deepEqual(h.published.map((m) => m.canonicalUrl), ['https://blog.example/a', 'https://blog.example/b']);
    assert.deepEqual(h.published[0], { ...urlMessage('https://blog.example/a', 'p1'), url: 'https://blog.example/a' });
    const feed = portfolio.feeds![0]!;
    assert.deepEqual({ status: feed.status, kind: feed.kind, found: feed.found, added: feed.addedKeys.length, skipped: feed.skipped }, { status: 'done', kind: 'rss', found: 3, added: 2, skipped: 2 });
    // A duplicate delivery changes nothing and fetches nothing.
    const again = await expandFeed(delivery(), h.deps);
    assert.deepEqual([again.kind, h.fetched.length, h.published.length], ['skipped', 1, 2]);
  });

  it('adds no more than MAX_URLS_PER_REQUEST articles to the portfolio', async () => {
    const h = harness({ maxUrls: 3, existing: ['https://blog.example/old'] });
    h.documents.set(FEED, rss([1, 2, 3, 4, 5].map((n) => `https://blog.example/${n}`)));
    await expandFeed(delivery(), h.deps);
    const portfolio = h.store.portfolios.get('p1')!;
    assert.equal(portfolio.urls.length, 3);
    assert.deepEqual([portfolio.feeds![0]!.addedKeys.length, portfolio.feeds![0]!.skipped], [2, 3]);
  });

  it('follows a sitemap index to a bounded depth, skipping a sitemap that is gone', async () => {
    const h = harness();
    const index = (locs: string[]) => `<sitemapindex>${locs.map((loc) => `<sitemap><loc>${loc}</loc></sitemap>`).join('')}</sitemapindex>`;
    const urlset = (locs: string[]) => `<urlset>${locs.map((loc) => `<url><loc>${loc}</loc></url>`).join('')}</urlset>`;
    h.documents.set(FEED, index(['https://blog.example/s1.xml', 'https://blog.example/gone.xml', 'https://blog.example/nested.xml']));
    h.documents.set('https://blog.example/s1.xml', urlset(['https://blog.example/p1', 'https://blog.example/p2']));
    h.documents.set('https://blog.example/nested.xml', index(['https://blog.example/s2.xml', 'https://blog.example/deeper.xml']));
    h.documents.set('https://blog.example/s2.xml', urlset(['https://blog.example/p3']));
    h.documents.set('https://blog.example/deeper.xml', index(['https://blog.example/s3.xml']));
    h.documents.set('https://blog.example/s3.xml', urlset(['https://blog.example/too-deep']));
    const outcome = await expandFeed(delivery(), h.deps);
    assert.equal(outcome.kind, 'done');
    assert.deepEqual(h.store.portfolios.get('p1')!.urls, ['https://blog.example/p1', 'https://blog.example/p2', 'https://blog.example/p3']);
    assert.ok(!h.fetched.includes('https://blog.example/s3.xml'), 'a third level of indexes is not followed');
  });

  it('fails a feed that is gone or is not a feed at once, with the reason', async () => {
    const h = harness();
    const gone = await expandFeed(delivery(), h.deps);
    assert.equal(gone.kind, 'failed');
    assert.deepEqual([h.store.portfolios.get('p1')!.feeds![0]!.status, h.store.portfolios.get('p1')!.feeds![0]!.error?.code], ['failed', 'http-404']);
    const h2 = harness();
    h2.documents.set(FEED, '<html><body>a blog</body></html>');
    const notFeed = await expandFeed(delivery(), h2.deps);
    assert.deepEqual([notFeed.kind, notFeed.kind === 'failed' && notFeed.code], ['failed', 'feed-invalid']);
  });

  it('asks for a redelivery on a transient failure, and the dead letter names the last error', async () => {
    const h = harness();
    h.documents.set(FEED, new FetchError('http-503', 'The site answered 503', true));
    const outcome = await expandFeed(delivery(), h.deps);
    assert.deepEqual([outcome.kind, outcome.kind === 'retry' && outcome.httpStatus], ['retry', 503]);
    assert.equal(h.store.portfolios.get('p1')!.feeds![0]!.status, 'queued');
    const dead = await recordFeedDeadLetter(pushBody({ ...urlMessage(FEED, 'p1'), kind: 'feed' }, { attributes: { kind: 'feed', CloudPubSubDeadLetterSourceDeliveryCount: '5' } }), h.deps);
    assert.equal(dead.kind, 'failed');
    const feed = h.store.portfolios.get('p1')!.feeds![0]!;
    assert.equal(feed.status, 'failed');
    assert.equal(feed.error?.code, 'dead-lettered');
    assert.match(feed.error?.message ?? '', /after 5 delivery attempts; the last error was http-503/);
  });

  it('a dead letter of a round before the feed was queued again (late, or delivered again) leaves the retried feed queued; its own round\'s fails it', async () => {
    const h = harness();
    const deadLetter = (publishTime: Date) =>
      pushBody({ ...urlMessage(FEED, 'p1'), kind: 'feed' }, { publishTime, attributes: { kind: 'feed', CloudPubSubDeadLetterSourceDeliveryCount: '5' } });
    assert.equal((await recordFeedDeadLetter(deadLetter(new Date('2026-01-01T00:00:00Z')), h.deps)).kind, 'failed');
    // The person retries the portfolio a day later: the feed is queued again, and a new message published.
    const retried = requeueFailedFeeds(h.store.portfolios.get('p1')!, new Date('2026-01-02T00:00:00Z'));
    assert.equal(retried.result.length, 1);
    h.store.portfolios.set('p1', retried.next!);
    const late = await recordFeedDeadLetter(deadLetter(new Date('2026-01-01T00:00:00Z')), h.deps);
    assert.deepEqual([late.kind, late.kind === 'skipped' && late.reason], ['skipped', 'already-resolved']);
    assert.equal(h.store.portfolios.get('p1')!.feeds![0]!.status, 'queued', 'the retry\'s message is still to come');
    const own = await recordFeedDeadLetter(deadLetter(new Date('2026-01-03T00:00:00Z')), h.deps);
    assert.equal(own.kind, 'failed');
    assert.equal(h.store.portfolios.get('p1')!.feeds![0]!.status, 'failed');
  });

  it('retries when publishing fails, then queues the same articles without adding them twice', async () => {
    const h = harness();
    h.documents.set(FEED, rss(['https://blog.example/a', 'https://blog.example/b']));
    h.failPublish.next = 1;
    const first = await expandFeed(delivery(), h.deps);
    assert.deepEqual([first.kind, first.kind === 'retry' && first.code], ['retry', 'publish-failed']);
    assert.equal(h.store.portfolios.get('p1')!.feeds![0]!.status, 'queued');
    const second = await expandFeed(delivery(), h.deps);
    assert.equal(second.kind, 'done');
    assert.deepEqual(h.store.portfolios.get('p1')!.urls, ['https://blog.example/a', 'https://blog.example/b']);
    assert.deepEqual(new Set(h.published.map((m) => m.canonicalUrl)), new Set(['https://blog.example/a', 'https://blog.example/b']));
  });
});

describe('expandFeed before the portfolio is recorded', () => {
  it('asks for a redelivery instead of dropping the message', async () => {
    const h = harness();
    h.store.portfolios.delete('p1');
    const outcome = await expandFeed(delivery(), h.deps);
    assert.deepEqual([outcome.kind, outcome.kind === 'retry' && outcome.code], ['retry', 'portfolio-not-recorded']);
  });
});
