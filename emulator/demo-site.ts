/**
 * A small built-in site of sample articles for `npm start -- --demo`, so the first curl works
 * without internet: a few well-formed articles, one broken page (404), one flaky page (503 twice,
 * then fine) and one that always fails (500, so it ends dead-lettered). Banners are real images
 * (PNG, JPEG, SVG; one article has none, one points at a missing image), and the articles are
 * listed in an RSS feed, an Atom feed, a JSON Feed, a sitemap and a sitemap index.
 */
import { createServer, type Server } from 'node:http';
import { bannerJpeg, bannerPng, bannerSvg } from './demo-images';

/** A running demo site. */
export interface DemoSite {
  /** `http://127.0.0.1:PORT` */
  baseUrl: string;
  /** Every URL worth submitting, good and bad. */
  urls: string[];
  /** Feeds and sitemaps listing the articles (and the broken page). */
  feeds: { rss: string; atom: string; jsonFeed: string; sitemap: string; sitemapIndex: string };
  stop(): Promise<void>;
}

const topics = [
  ['Designing idempotent message handlers', 'Why at-least-once delivery changes everything', ['Delivery guarantees', 'Keys and preconditions', 'Testing duplicates']],
  ['Reading time is a product decision', 'How many words per minute, and for whom', ['Counting words', 'Scripts without spaces', 'Rounding']],
  ['Backoff without thundering herds', 'Exponential retry, jitter and dead letters', ['Exponential backoff', 'Jitter', 'When to give up']],
  ['A field guide to canonical URLs', 'Tracking parameters, fragments and default ports', ['What makes URLs equal', 'Tracking parameters', 'Redirects']],
  ['Keeping the metadata server out of reach', 'SSRF defences for crawlers in the cloud', ['Literal addresses', 'DNS rebinding', 'Redirect hops']],
] as const;

const BANNERS = ['banner-1.png', 'banner-2.jpg', 'banner-3.svg', null, 'missing-banner.png'] as const;
let png: Buffer | undefined;

function bannerMeta(index: number, baseUrl: string): string {
  const banner = BANNERS[index % BANNERS.length];
  return banner ? `<meta property="og:image" content="${baseUrl}/images/${banner}">` : '';
}

function publishedAt(index: number): string {
  return new Date(Date.UTC(2026, 0, 5 + index * 7, 9, 30)).toISOString();
}

/** The listed pages: the five articles and the broken one (a feed may list a page that is gone). */
function listed(baseUrl: string): { url: string; title: string; published: string }[] {
  return [
    ...topics.map(([title], index) => ({ url: `${baseUrl}/articles/${index + 1}`, title, published: publishedAt(index) })),
    { url: `${baseUrl}/broken`, title: 'A post that was deleted', published: publishedAt(topics.length) },
  ];
}

function xmlText(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function feedDocument(kind: 'rss' | 'atom' | 'json' | 'sitemap' | 'sitemap-index', baseUrl: string): { type: string; body: string } {
  const items = listed(baseUrl);
  switch (kind) {
    case 'rss':
      return {
        type: 'application/rss+xml; charset=utf-8',
        body: `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Demo Engineering Blog</title><link>${baseUrl}/</link><description>Articles by Ada Example</description>
${items.map((item) => `<item><title>${xmlText(item.title)}</title><link>${item.url}?utm_source=rss</link><guid>${item.url}</guid><pubDate>${new Date(item.published).toUTCString()}</pubDate></item>`).join('\n')}
</channel></rss>
`,
      };
    case 'atom':
      return {
        type: 'application/atom+xml; charset=utf-8',
        body: `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Demo Engineering Blog</title><id>${baseUrl}/</id><updated>${items[0]?.published}</updated>
${items.map((item) => `<entry><title>${xmlText(item.title)}</title><link rel="alternate" href="${item.url}"/><id>${item.url}</id><updated>${item.published}</updated></entry>`).join('\n')}
</feed>
`,
      };
    case 'json':
      return {
        type: 'application/feed+json; charset=utf-8',
        body: JSON.stringify({ version: 'https://jsonfeed.org/version/1.1', title: 'Demo Engineering Blog', items: items.map((item) => ({ id: item.url, url: item.url, title: item.title, date_published: item.published })) }, null, 2),
      };
    case 'sitemap':
      return {
        type: 'application/xml; charset=utf-8',
        body: `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
${items.map((item) => `<url><loc>${item.url}</loc><lastmod>${item.published.slice(0, 10)}</lastmod></url>`).join('\n')}
</urlset>
`,
      };
    case 'sitemap-index':
      return {
        type: 'application/xml; charset=utf-8',
        body: `<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>${baseUrl}/sitemap.xml</loc></sitemap></sitemapindex>
`,
      };
  }
}

const FEED_PATHS = { '/feed.xml': 'rss', '/atom.xml': 'atom', '/feed.json': 'json', '/sitemap.xml': 'sitemap', '/sitemap-index.xml': 'sitemap-index' } as const;

function image(path: string): { type: string; body: Buffer | string } | null {
  switch (path) {
    case '/images/banner-1.png':
      png ??= bannerPng([43, 108, 176], [246, 173, 85]);
      return { type: 'image/png', body: png };
    case '/images/banner-2.jpg':
      return { type: 'image/jpeg', body: bannerJpeg() };
    case '/images/banner-3.svg':
      return { type: 'image/svg+xml', body: bannerSvg('Green circles') };
    default:
      return null;
  }
}

function articlePage(index: number, baseUrl: string): string {
  const [title, description, sections] = topics[index % topics.length]!;
  const published = publishedAt(index);
  const paragraph =
    'Queues decouple the request from the work: the caller is answered at once, and each unit of work ' +
    'succeeds, is retried or is recorded as failed on its own schedule, without holding up the rest. ';
  const body = sections
    .map((heading) => `<h2>${heading}</h2>\n${`<p>${paragraph.repeat(6)}</p>\n`.repeat(3)}`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${title} | Demo Engineering Blog</title>
<link rel="canonical" href="${baseUrl}/articles/${index + 1}">
<meta name="description" content="${description}">
<meta property="og:title" content="${title}">
<meta property="og:site_name" content="Demo Engineering Blog">
${bannerMeta(index, baseUrl)}
<meta property="article:published_time" content="${published}">
<meta name="author" content="Ada Example">
</head><body>
<header><nav><a href="/">Home</a> <h3>Navigation</h3></nav></header>
<main><article>
<h1>${title}</h1>
<p><time datetime="${published}">${published.slice(0, 10)}</time> by Ada Example</p>
${body}
</article></main>
<footer><h2>Subscribe</h2><p>© Demo Engineering Blog</p></footer>
</body></html>`;
}

/** Serves the demo site on 127.0.0.1 (`port` 0 = a free port). */
export async function startDemoSite(opts: { port?: number } = {}): Promise<DemoSite> {
  let baseUrl = '';
  let flakyRequests = 0;
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://demo').pathname;
    const article = /^\/articles\/(\d+)$/.exec(path);
    if (article && Number(article[1]) >= 1 && Number(article[1]) <= topics.length) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(articlePage(Number(article[1]) - 1, baseUrl));
    } else if (path === '/flaky') {
      flakyRequests += 1;
      if (flakyRequests % 3 !== 0) {
        response.writeHead(503, { 'content-type': 'text/plain' });
        response.end('temporarily overloaded, try again');
      } else {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(articlePage(0, baseUrl).replace(/<title>[^<]*/, '<title>The flaky page worked on the third try'));
      }
    } else if (path === '/always-500') {
      response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('this page never works');
    } else if (path in FEED_PATHS) {
      const feed = feedDocument(FEED_PATHS[path as keyof typeof FEED_PATHS], baseUrl);
      response.writeHead(200, { 'content-type': feed.type });
      response.end(feed.body);
    } else if (image(path)) {
      const found = image(path)!;
      response.writeHead(200, { 'content-type': found.type, 'cache-control': 'public, max-age=3600' });
      response.end(found.body);
    } else {
      response.writeHead(404, { 'content-type': 'text/html' });
      response.end('<h1>Not found</h1>');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    urls: [
      ...topics.map((_, index) => `${baseUrl}/articles/${index + 1}`),
      `${baseUrl}/broken`,
      `${baseUrl}/flaky`,
      `${baseUrl}/always-500`,
    ],
    feeds: {
      rss: `${baseUrl}/feed.xml`,
      atom: `${baseUrl}/atom.xml`,
      jsonFeed: `${baseUrl}/feed.json`,
      sitemap: `${baseUrl}/sitemap.xml`,
      sitemapIndex: `${baseUrl}/sitemap-index.xml`,
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
