/**
 * A small built-in site of sample articles for `npm start -- --demo`, so the first curl works
 * without internet: a few well-formed articles, one broken page (404), one flaky page (503 twice,
 * then fine) and one that always fails (500, so it ends dead-lettered).
 */
import { createServer, type Server } from 'node:http';

/** A running demo site. */
export interface DemoSite {
  /** `http://127.0.0.1:PORT` */
  baseUrl: string;
  /** Every URL worth submitting, good and bad. */
  urls: string[];
  stop(): Promise<void>;
}

const topics = [
  ['Designing idempotent message handlers', 'Why at-least-once delivery changes everything', ['Delivery guarantees', 'Keys and preconditions', 'Testing duplicates']],
  ['Reading time is a product decision', 'How many words per minute, and for whom', ['Counting words', 'Scripts without spaces', 'Rounding']],
  ['Backoff without thundering herds', 'Exponential retry, jitter and dead letters', ['Exponential backoff', 'Jitter', 'When to give up']],
  ['A field guide to canonical URLs', 'Tracking parameters, fragments and default ports', ['What makes URLs equal', 'Tracking parameters', 'Redirects']],
  ['Keeping the metadata server out of reach', 'SSRF defences for crawlers in the cloud', ['Literal addresses', 'DNS rebinding', 'Redirect hops']],
] as const;

function articlePage(index: number, baseUrl: string): string {
  const [title, description, sections] = topics[index % topics.length]!;
  const published = new Date(Date.UTC(2026, 0, 5 + index * 7, 9, 30)).toISOString();
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
<meta property="og:image" content="${baseUrl}/images/banner-${index + 1}.png">
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
    } else if (path.startsWith('/images/')) {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.end();
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
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
