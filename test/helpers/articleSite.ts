/**
 * A loopback web site of generated article pages, for the pipeline's integration tests and the
 * ingest benchmark. Every page is made up here from its number, so a test knows the expected title,
 * date, outline, reading time and banner image of each.
 *
 * Routes:
 * - `/articles/{n}`   an article (200)
 * - `/missing/{n}`    404
 * - `/broken/{n}`     500, always
 * - `/flaky/{n}`      500 for the first `flakyFailures` requests of that path, then the article
 * Every response waits `latencyMs` first (a far-away site, for the benchmark).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WORDS_PER_MINUTE } from '../../functions/src/extract/readingTime';

/** What the extractor should find on `/articles/{n}` (and `/flaky/{n}` once it works). */
export interface ExpectedArticle {
  title: string;
  publishedAt: string;
  outline: string[];
  readingTimeMinutes: number;
  bannerImage: string;
}

/** A running article site. */
export interface ArticleSite {
  /** e.g. `http://127.0.0.1:PORT` */
  origin: string;
  url(kind: 'articles' | 'missing' | 'broken' | 'flaky', n: number): string;
  expected(n: number): ExpectedArticle;
  /** Requests served per path. */
  hits: Map<string, number>;
  stop(): Promise<void>;
}

const WORDS = ['river', 'stone', 'quiet', 'measure', 'harbour', 'lantern', 'orbit', 'signal', 'meadow', 'copper', 'thread', 'window'];

function paragraph(seed: number, words: number): string {
  const out: string[] = [];
  for (let index = 0; index < words; index++) out.push(WORDS[(seed * 7 + index * 5) % WORDS.length] ?? 'word');
  return `<p>${out.join(' ')}.</p>`;
}

function expectedArticle(origin: string, n: number): ExpectedArticle {
  const day = String((n % 28) + 1).padStart(2, '0');
  return {
    title: `Notes on harbour lights, part ${n}`,
    publishedAt: `2025-06-${day}T08:30:00Z`,
    outline: [`Why part ${n} matters`, 'What we measured', 'What comes next'],
    readingTimeMinutes: (n % 3) + 2,
    bannerImage: `${origin}/images/banner-${n}.jpg`,
  };
}

function articleHtml(origin: string, n: number): string {
  const expected = expectedArticle(origin, n);
  // Three sections sharing the words of `readingTimeMinutes` minutes (headings add a few words).
  const perSection = Math.round((expected.readingTimeMinutes * WORDS_PER_MINUTE) / 3 / 2);
  const sections = expected.outline
    .map((heading, index) => `<h2>${heading}</h2>${paragraph(n + index, perSection)}${paragraph(n + index + 1, perSection)}`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${expected.title} | Harbour Journal</title>
<meta property="og:title" content="${expected.title}">
<meta property="og:site_name" content="Harbour Journal">
<meta property="og:image" content="${expected.bannerImage}">
<meta property="article:published_time" content="${expected.publishedAt}">
<link rel="canonical" href="${origin}/articles/${n}">
</head><body>
<header><nav><a href="/">Harbour Journal</a></nav></header>
<main><article>
<h1>${expected.title}</h1>
<p class="byline">By A. Writer, <time datetime="${expected.publishedAt}">${expected.publishedAt.slice(0, 10)}</time></p>
${sections}
</article></main>
<footer><p>© Harbour Journal</p></footer>
</body></html>`;
}

/** Starts the site on a free port of `host` (default 127.0.0.1; any 127.x.y.z address is loopback). */
export async function startArticleSite(options: { latencyMs?: number; flakyFailures?: number; host?: string } = {}): Promise<ArticleSite> {
  const host = options.host ?? '127.0.0.1';
  const latencyMs = options.latencyMs ?? 0;
  const flakyFailures = options.flakyFailures ?? 2;
  const hits = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let origin = '';

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    const respond = (): void => {
      const match = /^\/(articles|missing|broken|flaky)\/(\d+)$/.exec(path);
      const kind = match?.[1];
      const n = Number(match?.[2]);
      if (kind === 'articles' || (kind === 'flaky' && count > flakyFailures)) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(articleHtml(origin, n));
      } else if (kind === 'broken' || kind === 'flaky') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      } else {
        res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not found</h1>');
      }
    };
    if (latencyMs === 0) return respond();
    const timer = setTimeout(() => {
      timers.delete(timer);
      respond();
    }, latencyMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  origin = `http://${host}:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    url: (kind, n) => `${origin}/${kind}/${n}`,
    expected: (n) => expectedArticle(origin, n),
    hits,
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
