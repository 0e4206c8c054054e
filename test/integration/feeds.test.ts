/**
 * Feed and sitemap import on the local stack: POST /portfolios with "feeds" answers 202 at once; the
 * pipeline fetches each feed (a queue message like any URL), adds its articles once, and they are
 * scraped; a feed that is gone fails with its reason in the status view.
 */
import assert from 'node:assert/strict';
import { memoryLogger } from '../../functions/src/log';
import { startDemoSite, type DemoSite } from '../../emulator/demo-site';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { forEachLane } from '../helpers/lanes';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

forEachLane('feed and sitemap import end to end', (lane) => {
  let stack: LocalStack;
  let demo: DemoSite;

  before(async function () {
    this.timeout(60_000);
    demo = await startDemoSite();
    stack = await startLocalStack({ running: lane.emulators(), apiPort: 0, backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 }, deps: { log: memoryLogger().log } });
  });

  after(async () => {
    await stack?.stop();
    await demo?.stop();
  });

  it('expands an RSS feed and a sitemap index into one de-duplicated portfolio, and says why a feed failed', async function () {
    this.timeout(90_000);
    const response = await fetch(`${stack.apiUrl}/portfolios`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada', feeds: [demo.feeds.rss, demo.feeds.sitemapIndex, `${demo.baseUrl}/no-feed-here.xml`] }),
    });
    assert.equal(response.status, 202);
    const submitted = (await response.json()) as { portfolioId: string; accepted: number; feeds: number };
    assert.deepEqual([submitted.accepted, submitted.feeds], [0, 3]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked field by field
    let view: any;
    const deadline = Date.now() + 60_000;
    for (;;) {
      view = await (await fetch(`${stack.apiUrl}/portfolios/${submitted.portfolioId}`)).json();
      const feedsPending = view.feeds.some((feed: { status: string }) => feed.status === 'queued');
      if ((!feedsPending && view.counts.queued === 0) || Date.now() > deadline) break;
      await sleep(250);
    }
    const [rss, index, missing] = view.feeds;
    assert.deepEqual([rss.status, rss.kind, rss.found], ['done', 'rss', 6], JSON.stringify(rss));
    assert.deepEqual([index.status, index.kind, index.found], ['done', 'sitemap-index', 6], JSON.stringify(index));
    assert.equal(rss.added + index.added, 6, 'each article added once, by whichever feed came first');
    assert.deepEqual([missing.status, missing.error.code], ['failed', 'http-404']);
    assert.equal(view.articles.length, 6);
    assert.deepEqual(view.counts, { queued: 0, done: 5, failed: 1 });
    const urls = view.articles.map((article: { url: string }) => article.url).sort();
    assert.deepEqual(urls, [...demo.urls.slice(0, 5), `${demo.baseUrl}/broken`].sort(), 'canonical (utm_source dropped), no duplicates');
  });
});
