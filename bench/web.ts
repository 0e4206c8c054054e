/**
 * Web page and feed import benchmark, on the embedded local stack:
 *
 * 1. First paint of the portfolio page of 1,000 done articles in headless Chromium (navigation start
 *    to first-contentful-paint, and to DOMContentLoaded), median of several loads. Goal ≤ 1 s. The
 *    page is streamed, so its first and last byte are shown apart.
 * 2. Firestore reads while the page watches a 1,000-article portfolio to the end: articles turn done
 *    in batches while the page polls `?terminal=`; the reads are counted from the API's own log lines
 *    (one for the portfolio per request, plus one per article read), against what polling without
 *    the bitmap would have read (1,001 per poll). Goal: about one read per article plus one per
 *    still-pending article per poll.
 * 3. Expanding a 1,000-entry RSS feed served on loopback: fetch (the real fetcher), parse, canonicalise,
 *    add to the portfolio in Firestore and publish 1,000 messages. Goal ≤ 2 s.
 *
 * Run: `npx tsx bench/web.ts` (or `npm run bench -- web`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { expandFeed } from '../functions/src/feeds/expand';
import { queuedFeed } from '../functions/src/feeds/record';
import { fetchPage } from '../functions/src/fetch';
import type { LogEntry } from '../functions/src/log';
import { publisher } from '../functions/src/publisher';
import { firestoreStore, PORTFOLIO_URL_BYTES_LIMIT, queuedArticle, type ArticleRecord } from '../functions/src/store';
import { canonicalizeUrl } from '../functions/src/urls';
import { FIRST_CHUNK } from '../functions/src/portfolio/chunks';
import { startLocalStack } from '../emulator/stack';
import { launchBrowser } from '../test/web/browser';
import { median } from './stats';
import type { BenchSection } from './types';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const ARTICLES = 1000;
const PAINT_RUNS = 5;
const FEED_RUNS = 3;

function progress(message: string): void {
  process.stderr.write(`[bench/web] ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function keyed(url: string): { url: string; canonicalUrl: string; urlKey: string } {
  const result = canonicalizeUrl(url);
  if (!result.ok) throw new Error(url);
  return { url, canonicalUrl: result.canonicalUrl, urlKey: result.urlKey };
}

function doneArticle(item: { url: string; canonicalUrl: string; urlKey: string }, n: number, now: Date): ArticleRecord {
  return {
    ...queuedArticle(item, now),
    status: 'done',
    attempts: 1,
    title: `Notes on harbour lights, part ${n}: what the measurements said`,
    publishedAt: new Date(Date.UTC(2025, 0, 1 + (n % 300))).toISOString(),
    outline: ['Why it matters', 'What we measured', 'What comes next'],
    readingTimeMinutes: 3 + (n % 9),
    // Off-site images (not loaded: nothing listens there) so the page paints as it would with real banners.
    bannerImage: `https://images.invalid/banner-${n}.jpg`,
    scrapedAt: now,
    terminalAt: now,
  };
}

export async function run(): Promise<BenchSection> {
  const logs: LogEntry[] = [];
  const stack = await startLocalStack({ emulators: 'embedded', apiPort: 0, deps: { log: (entry) => logs.push(entry) } });
  const browser = await launchBrowser();
  const rows: string[] = [];
  const notes: string[] = [];
  try {
    const store = firestoreStore(stack.clients.firestore, stack.config.collectionPrefix);
    const now = new Date();

    // 1. First paint of 1,000 done articles.
    const items = Array.from({ length: ARTICLES }, (_, i) => keyed(`https://writer.example/posts/${i + 1}`));
    await Promise.all(items.map((item, i) => store.putArticle(item.urlKey, doneArticle(item, i + 1, now))));
    await store.createPortfolio({ portfolioId: 'benchPaint', name: 'A thousand articles', createdAt: now, urls: items.map((i) => i.canonicalUrl), urlKeys: items.map((i) => i.urlKey) });
    const paints: number[] = [];
    const loaded: number[] = [];
    const firstBytes: number[] = [];
    const lastBytes: number[] = [];
    let htmlBytes = 0;
    for (let run = 0; run < PAINT_RUNS; run += 1) {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      const response = await page.goto(`${stack.apiUrl}/portfolios/benchPaint`, { waitUntil: 'load' });
      htmlBytes = (await response?.buffer())?.length ?? 0;
      const timing = (await page.evaluate(
        `new Promise((resolve) => {
          const nav = performance.getEntriesByType('navigation')[0];
          const done = (entry) => resolve({ fcp: entry ? entry.startTime : -1, dcl: nav.domContentLoadedEventEnd, ttfb: nav.responseStart, body: nav.responseEnd });
          new PerformanceObserver((list) => { const entry = list.getEntriesByName('first-contentful-paint')[0]; if (entry) done(entry); }).observe({ type: 'paint', buffered: true });
          setTimeout(() => done(performance.getEntriesByName('first-contentful-paint')[0]), 5000);
        })`,
      )) as { fcp: number; dcl: number; ttfb: number; body: number };
      progress(`run ${run}: first byte ${timing.ttfb.toFixed(0)} ms, last byte ${timing.body.toFixed(0)} ms, FCP ${timing.fcp.toFixed(0)} ms`);
      firstBytes.push(timing.ttfb);
      lastBytes.push(timing.body);
      paints.push(timing.fcp);
      loaded.push(timing.dcl);
      await page.close();
    }
    progress(`first paint ${paints.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    // What the server's first byte waits for: the one getAll of 1,000 articles from the emulator.
    const reads: number[] = [];
    for (let run = 0; run < PAINT_RUNS; run += 1) {
      const started = performance.now();
      await store.getArticles(items.map((item) => item.urlKey));
      reads.push(performance.now() - started);
    }
    const paint = median(paints);
    rows.push(`| first contentful paint, ${ARTICLES} done articles (median of ${PAINT_RUNS}) | ${paint.toFixed(0)} ms (${paint <= 1000 ? 'met' : 'not met'}) | ≤ 1,000 ms |`);
    rows.push(`| first byte of the page (streamed: portfolio + the first ${FIRST_CHUNK} articles read, head and first cards sent) | ${median(firstBytes).toFixed(0)} ms | — |`);
    rows.push(`| last byte of the page (the other articles read in growing chunks, one read in flight, cards sent as each arrives) | ${median(lastBytes).toFixed(0)} ms | — |`);
    rows.push(`| for comparison: one getAll of the 1,000 articles from the embedded Firestore, alone | ${median(reads).toFixed(0)} ms | — |`);
    rows.push(`| DOMContentLoaded, same page | ${median(loaded).toFixed(0)} ms | — |`);
    rows.push(`| HTML of that page | ${(htmlBytes / 1024).toFixed(0)} KiB | — |`);

    // 2. Reads while the page watches 1,000 articles to the end.
    const watched = Array.from({ length: ARTICLES }, (_, i) => keyed(`https://writer.example/watched/${i + 1}`));
    await store.createPortfolio({ portfolioId: 'benchWatch', name: 'Watched', createdAt: now, urls: watched.map((i) => i.canonicalUrl), urlKeys: watched.map((i) => i.urlKey) });
    logs.length = 0;
    const page = await browser.newPage();
    await page.goto(`${stack.apiUrl}/portfolios/benchWatch`, { waitUntil: 'load' });
    // 100 articles turn done every 700 ms; 2% fail.
    for (let start = 0; start < ARTICLES; start += 100) {
      await sleep(700);
      await Promise.all(
        watched.slice(start, start + 100).map((item, offset) => {
          const n = start + offset;
          const record = doneArticle(item, n, new Date());
          return store.putArticle(item.urlKey, n % 50 === 0 ? { ...record, status: 'failed', lastError: { code: 'http-404', message: 'gone', at: new Date() } } : record);
        }),
      );
    }
    await page.waitForFunction('document.body.dataset.settled === "true"', { timeout: 120_000, polling: 200 });
    await page.close();
    const requests = logs.filter((entry) => typeof entry.message === 'string' && entry.message.startsWith('GET /portfolios/benchWatch '));
    const polls = requests.filter((entry) => typeof entry.read === 'number');
    const articleReads = polls.reduce((sum, entry) => sum + (entry.read as number), 0);
    const pageLoadReads = 1 + ARTICLES;
    const pollReads = polls.length + articleReads;
    const naive = polls.length * (1 + ARTICLES);
    progress(`${polls.length} polls, ${articleReads} article reads`);
    rows.push(`| polls until every article was terminal | ${polls.length} | — |`);
    rows.push(`| Firestore reads: page load | ${pageLoadReads} | — |`);
    rows.push(`| Firestore reads: all polls (portfolio + articles still pending) | ${pollReads} (${(pollReads / polls.length).toFixed(0)} per poll) | — |`);
    rows.push(`| same polls without \`terminal\` (every article each time) | ${naive} | — |`);
    notes.push(`Watching to the end cost ${pageLoadReads + pollReads} reads, ${((pageLoadReads + pollReads) / (pageLoadReads + naive)).toFixed(2)}× what polling every article would have (${pageLoadReads + naive}).`);

    // 3. A 1,000-entry feed.
    const feedBody = `<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>${Array.from({ length: ARTICLES }, (_, i) => `<item><title>Post ${i}</title><link>https://writer.example/feed-post/${i}?utm_source=rss</link><pubDate>Mon, 05 Jan 2026 09:30:00 GMT</pubDate></item>`).join('')}</channel></rss>`;
    const site = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/rss+xml' }).end(feedBody));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    const feedUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/feed.xml`;
    // A topic nothing subscribes to: the 1,000 messages are published and confirmed, not scraped.
    const topicName = `bench-feed-${Date.now()}`;
    await stack.clients.pubsub.createTopic(topicName);
    const publishUrls = publisher(stack.clients.pubsub, topicName);
    const times: number[] = [];
    try {
      for (let run = 0; run < FEED_RUNS; run += 1) {
        const portfolioId = `benchFeed${run}`;
        const feed = keyed(feedUrl);
        await store.createPortfolio({ portfolioId, name: null, createdAt: new Date(), urls: [], urlKeys: [], feeds: [queuedFeed(feed, new Date())] });
        const body = {
          message: { data: Buffer.from(JSON.stringify({ ...feed, portfolioId, kind: 'feed' })).toString('base64'), attributes: { kind: 'feed' }, messageId: `m${run}`, publishTime: new Date().toISOString() },
        };
        const started = performance.now();
        const outcome = await expandFeed(body, {
          fetchPage,
          getPortfolio: (id) => store.getPortfolio(id),
          updatePortfolio: (id, change) => store.updatePortfolio(id, change),
          publishUrls,
          blockReason: () => null,
          now: () => new Date(),
          config: stack.config,
          portfolioUrlBytesLimit: PORTFOLIO_URL_BYTES_LIMIT,
        });
        times.push(performance.now() - started);
        if (outcome.kind !== 'done' || outcome.added !== ARTICLES) throw new Error(`feed run ${run}: ${JSON.stringify(outcome)}`);
      }
    } finally {
      site.closeAllConnections();
      await new Promise((resolve) => site.close(resolve));
    }
    progress(`feed ${times.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    rows.push(`| 1,000-entry RSS feed expanded: fetched, parsed, added, 1,000 messages confirmed (median of ${FEED_RUNS}) | ${median(times).toFixed(0)} ms | ≤ 2,000 ms |`);
  } finally {
    await browser.close();
    await stack.stop();
  }
  return {
    title: 'Web page and feed import',
    command: 'npx tsx bench/web.ts',
    markdown: ['| what | measured | goal |', '|---|---|---|', ...rows, '', ...notes.map((note) => `- ${note}`), '- Shared machine (2 cores, other helpers\' tests running); embedded emulators in this process.'].join('\n'),
  };
}

if (require.main === module) {
  run().then(
    (section) => {
      console.log(section.markdown);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
