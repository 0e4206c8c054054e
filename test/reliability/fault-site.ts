/**
 * A loopback web site whose pages misbehave on purpose, for chaos runs of the whole pipeline.
 *
 * Every page's behaviour is chosen from a seed, and the site says in advance how the pipeline must
 * end each URL (`done`, `failed` with a fetch code, or `failed: dead-lettered`), so a chaos run can
 * assert every outcome exactly instead of "most things finished". The category sizes are exact
 * (rounded fractions of the page count, then shuffled by the seed): a run with 2 % never-succeeding
 * pages has exactly that many dead letters to expect.
 *
 * Pages are served on `hosts` made-up host names under `.fault.test` (RFC 2606 reserves `.test`), all
 * answered by {@link FaultSite.resolver} with 127.0.0.1; pass that resolver to `fetchPage` so nothing
 * is ever looked up in real DNS. With `hosts: 0` the URLs use `127.0.0.1` itself.
 *
 * The `rate-limited` pages live on a host of their own (another port of 127.0.0.1, so the scraper's
 * per-host breaker closes only it): its first `limitedRequests` requests are answered 429 (or 503)
 * with `Retry-After: 1`, then its pages are articles. The site counts
 * any request to a page that comes before the Retry-After it gave that page.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How a page behaves. */
export type FaultKind =
  // healthy: answers with an article
  | 'ok'
  | 'slow'
  | 'redirect-ok'
  | 'charset-mislabelled'
  | 'charset-unknown-label'
  | 'charset-meta-only'
  // transient: fails `failuresBeforeHealthy` times, then answers with an article
  | 'flaky-500'
  | 'flaky-503'
  | 'flaky-reset'
  | 'flaky-hang'
  // permanent: no retry can help
  | 'http-404'
  | 'http-410'
  | 'non-html'
  | 'oversized'
  | 'oversized-chunked'
  | 'redirect-loop'
  // never succeeds, but every failure looks retryable: ends in the dead-letter topic
  | 'always-500'
  | 'always-reset'
  | 'always-hang'
  // on the rate-limiting host: 429 (or 503) with Retry-After while the host limits, then an article
  | 'limited-429'
  | 'limited-503';

/** The groups the chaos run reports on. */
export type FaultCategory = 'healthy' | 'transient' | 'permanent' | 'never' | 'rate-limited';

export const kindsByCategory: Record<FaultCategory, readonly FaultKind[]> = {
  healthy: ['ok', 'ok', 'ok', 'slow', 'redirect-ok', 'charset-mislabelled', 'charset-unknown-label', 'charset-meta-only'],
  transient: ['flaky-500', 'flaky-503', 'flaky-reset', 'flaky-hang'],
  permanent: ['http-404', 'http-410', 'non-html', 'oversized', 'oversized-chunked', 'redirect-loop'],
  never: ['always-500', 'always-reset', 'always-hang'],
  'rate-limited': ['limited-429', 'limited-429', 'limited-503'],
};

/** How the pipeline must end a URL. */
export type ExpectedOutcome = { status: 'done' } | { status: 'failed'; code: string };

const permanentCodes: Partial<Record<FaultKind, string>> = {
  'http-404': 'http-404',
  'http-410': 'http-410',
  'non-html': 'unsupported-content-type',
  oversized: 'too-large',
  'oversized-chunked': 'too-large',
  'redirect-loop': 'too-many-redirects',
};

/** One page of the site. */
export interface FaultPage {
  /** Absolute URL to submit (already canonical: lower-case host, no fragment, no tracking). */
  url: string;
  /** Path on the site; requests are counted per path (redirect hops count on their page). */
  path: string;
  kind: FaultKind;
  category: FaultCategory;
  /** For transient kinds: failing requests before the page answers normally; else 0. */
  failuresBeforeHealthy: number;
  expected: ExpectedOutcome;
  /** The headline an extractor should find, for pages that end `done`. */
  title: string;
}

/** Options of {@link startFaultSite}. */
export interface FaultSiteOptions {
  /** Chooses every page's behaviour; the same seed gives the same site. */
  seed: number;
  /** Pages on the site. */
  pages: number;
  /** Fractions of pages per category; the rest are healthy. Default 0.2 / 0.05 / 0.02 / 0.02 (rateLimited 0 when a mix leaves it out). */
  mix?: { transient: number; permanent: number; never: number; rateLimited?: number };
  /**
   * How many requests the rate-limiting host answers 429 (or 503) with `Retry-After: 1` before it
   * serves its pages: default a quarter of its pages (at least one).
   */
  limitedRequests?: number;
  /**
   * Most failures of a transient page before it recovers; must stay below the subscription's max
   * delivery attempts (default 5) or a "transient" page would be dead-lettered. Default 3.
   */
  maxTransientFailures?: number;
  /** Host names the pages are spread over (0 = use 127.0.0.1 literally). Default 8. */
  hosts?: number;
  /** How long a `slow` page takes to answer; keep it under the fetch deadline. Default 300 ms. */
  slowMs?: number;
  /** Body size of the oversized pages; make it larger than the fetcher's FETCH_MAX_BYTES. Default 6 MiB. */
  oversizedBytes?: number;
}

/** A running fault site. */
export interface FaultSite {
  port: number;
  pages: readonly FaultPage[];
  /** The page behind a submitted URL. */
  page(url: string): FaultPage | undefined;
  /** Requests the site received for a page (all hops and retries). */
  requests(url: string): number;
  /** Requests received in total. */
  totalRequests(): number;
  /** Requests to a page that arrived before the Retry-After the site had given that page ran out. */
  earlyRequests(url: string): number;
  /** The rate-limiting host (its own port, so its own host for the scraper's per-host breaker). */
  limiter: { origin: string; requests(): number; limitedAnswers(): number; limitedRequests: number };
  /** Resolves the site's host names to 127.0.0.1 and refuses every other name (ENOTFOUND). */
  resolver(hostname: string): Promise<string[]>;
  /** Pages per category, for reports. */
  counts(): Record<FaultCategory, number>;
  /** Closes the server, its open connections and every pending timer. */
  stop(): Promise<void>;
}

/** mulberry32: a small seeded generator, so a seed reproduces a site exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

// ---------------------------------------------------------------------------------------------
// Article pages: generated prose with the metadata real publishers put in their heads.

const SUBJECTS = ['tidal power', 'city trams', 'sourdough', 'night trains', 'glacier melt', 'small satellites', 'urban bees', 'river ferries', 'paper maps', 'public libraries', 'wind farms', 'coral reefs'];
const ANGLES = ['A field guide to', 'What we learned about', 'The quiet return of', 'Ten years of', 'Inside the economics of', 'Why nobody talks about'];
const SECTIONS = ['Background', 'How it works', 'The numbers', 'What critics say', 'Looking ahead', 'A closer look', 'Lessons from abroad'];
const WORDS = 'the a of and to in harbour measured slowly council engineers morning winter budget report station signal ferry crossing weather journal evidence season tracks voices market'.split(' ');
const SITE_NAMES = ['The Harbour Ledger', 'Northern Review', 'Tramline Weekly', 'Field Notes Daily', 'The Civic Gazette', 'Open Water News', 'Lantern Post', 'Meridian Times'];

/** What an article page says about itself. */
interface ArticleSpec {
  title: string;
  siteName: string;
  publishedAt: string;
  outline: string[];
  paragraphs: string[];
  image: string;
}

function articleSpec(random: () => number, index: number, origin: string, path: string): ArticleSpec {
  const title = `${pick(random, ANGLES)} ${pick(random, SUBJECTS)} (no. ${index})`;
  const outline = SECTIONS.filter(() => random() < 0.5).slice(0, 4);
  if (outline.length === 0) outline.push('Background');
  const paragraphs: string[] = [];
  const paragraphCount = 3 + Math.floor(random() * 6);
  for (let p = 0; p < paragraphCount; p++) {
    const words: string[] = [];
    const length = 40 + Math.floor(random() * 60);
    for (let w = 0; w < length; w++) words.push(pick(random, WORDS));
    const sentence = words.join(' ');
    paragraphs.push(`${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`);
  }
  const month = String(1 + Math.floor(random() * 12)).padStart(2, '0');
  const day = String(1 + Math.floor(random() * 28)).padStart(2, '0');
  return {
    title,
    siteName: pick(random, SITE_NAMES),
    publishedAt: `2025-${month}-${day}T0${Math.floor(random() * 10)}:15:00Z`,
    outline,
    paragraphs,
    image: `${origin}/media${path}/lead.jpg`,
  };
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The page's HTML. `accent` puts non-ASCII text in, so wrong charsets show. `meta` is the head's charset tag. */
function articleHtml(spec: ArticleSpec, url: string, options: { meta?: string; accent?: boolean } = {}): string {
  const body: string[] = [];
  spec.paragraphs.forEach((text, index) => {
    const heading = spec.outline[Math.floor((index * spec.outline.length) / spec.paragraphs.length)];
    if (heading !== undefined && (index === 0 || heading !== spec.outline[Math.floor(((index - 1) * spec.outline.length) / spec.paragraphs.length)])) {
      body.push(`<h2>${escapeHtml(heading)}</h2>`);
    }
    body.push(`<p>${escapeHtml(text)}${options.accent ? ' Café crème, naïve façade, déjà vu.' : ''}</p>`);
  });
  const title = escapeHtml(spec.title);
  return `<!DOCTYPE html>
<html lang="en">
<head>
${options.meta ?? '<meta charset="utf-8">'}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} | ${escapeHtml(spec.siteName)}</title>
<meta name="description" content="${escapeHtml(spec.paragraphs[0]?.slice(0, 150) ?? '')}">
<meta property="og:type" content="article">
<meta property="og:title" content="${title}">
<meta property="og:site_name" content="${escapeHtml(spec.siteName)}">
<meta property="og:image" content="${spec.image}">
<meta property="article:published_time" content="${spec.publishedAt}">
<link rel="canonical" href="${url}">
<script type="application/ld+json">${JSON.stringify({ '@context': 'https://schema.org', '@type': 'NewsArticle', headline: spec.title, datePublished: spec.publishedAt, image: [spec.image] })}</script>
<link rel="stylesheet" href="/assets/site.css">
</head>
<body>
<header class="masthead"><a class="logo" href="/"><img src="/assets/logo.svg" alt="${escapeHtml(spec.siteName)}"></a>
<nav><ul><li><a href="/news">News</a></li><li><a href="/science">Science</a></li><li><a href="/about">About</a></li></ul></nav></header>
<main>
<article>
<h1>${title}</h1>
<p class="byline">By <a rel="author" href="/staff/r-writer">R. Writer</a> · <time datetime="${spec.publishedAt}">${spec.publishedAt.slice(0, 10)}</time></p>
<figure><img src="${spec.image}" alt=""><figcaption>Photograph for the ${escapeHtml(spec.siteName)}.</figcaption></figure>
${body.join('\n')}
</article>
<aside class="related"><h3>Related</h3><ul><li><a href="/more/1">More from this desk</a></li></ul></aside>
</main>
<footer><p>© ${escapeHtml(spec.siteName)}. All rights reserved.</p></footer>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------

function assignKinds(random: () => number, pageCount: number, mix: NonNullable<FaultSiteOptions['mix']>): FaultKind[] {
  const sizes: Record<FaultCategory, number> = {
    transient: Math.round(pageCount * mix.transient),
    permanent: Math.round(pageCount * mix.permanent),
    never: Math.round(pageCount * mix.never),
    'rate-limited': Math.round(pageCount * (mix.rateLimited ?? 0)),
    healthy: 0,
  };
  sizes.healthy = pageCount - sizes.transient - sizes.permanent - sizes.never - sizes['rate-limited'];
  if (sizes.healthy < 0) throw new RangeError('The fault mix adds up to more than every page.');
  const kinds: FaultKind[] = [];
  for (const category of ['healthy', 'transient', 'permanent', 'never', 'rate-limited'] as const) {
    const choices = kindsByCategory[category];
    // Cycle through the kinds of a category before repeating one, so a small site still has each.
    for (let i = 0; i < sizes[category]; i++) kinds.push(choices[i % choices.length] as FaultKind);
  }
  // Fisher–Yates with the seeded generator.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j] as FaultKind, kinds[i] as FaultKind];
  }
  return kinds;
}

function categoryOf(kind: FaultKind): FaultCategory {
  for (const category of ['healthy', 'transient', 'permanent', 'never', 'rate-limited'] as const) {
    if (kindsByCategory[category].includes(kind)) return category;
  }
  throw new Error(`unknown fault kind ${kind}`);
}

function expectedOutcome(kind: FaultKind, category: FaultCategory): ExpectedOutcome {
  if (category === 'healthy' || category === 'transient' || category === 'rate-limited') return { status: 'done' };
  if (category === 'never') return { status: 'failed', code: 'dead-lettered' };
  return { status: 'failed', code: permanentCodes[kind] ?? 'unknown' };
}

interface PageState {
  page: FaultPage;
  spec: ArticleSpec;
  requests: number;
  /** Epoch ms before which the site told this page's client not to ask again (its last Retry-After). */
  notBefore: number;
  /** Requests that came before `notBefore`. */
  early: number;
}

/** Starts the site on a free loopback port. */
export async function startFaultSite(options: FaultSiteOptions): Promise<FaultSite> {
  const mix = options.mix ?? { transient: 0.2, permanent: 0.05, never: 0.02, rateLimited: 0.02 };
  const maxTransientFailures = options.maxTransientFailures ?? 3;
  const hostCount = options.hosts ?? 8;
  const slowMs = options.slowMs ?? 300;
  const oversizedBytes = options.oversizedBytes ?? 6 * 1024 * 1024;
  if (maxTransientFailures < 1) throw new RangeError('maxTransientFailures must be at least 1.');

  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const byPath = new Map<string, PageState>();
  let total = 0;
  // The rate-limiting host: answers its first limitedRequests requests 429/503 (set once the pages are made).
  let limitCount = 0;
  let limiterRequests = 0;
  let limitedAnswers = 0;

  const later = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };

  function sendArticle(state: PageState, res: ServerResponse, variant: FaultKind): void {
    const { page, spec } = state;
    switch (variant) {
      case 'charset-mislabelled':
        // Latin-1 bytes under a UTF-8 label: the accented words decode to U+FFFD, the page still reads.
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(Buffer.from(articleHtml(spec, page.url, { meta: '', accent: true }), 'latin1'));
        return;
      case 'charset-unknown-label':
        res.writeHead(200, { 'content-type': 'text/html; charset=x-no-such-charset' }).end(articleHtml(spec, page.url, { meta: '<meta charset="klingon-8">', accent: true }));
        return;
      case 'charset-meta-only':
        res.writeHead(200, { 'content-type': 'text/html' }).end(Buffer.from(articleHtml(spec, page.url, { meta: '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">', accent: true }), 'latin1'));
        return;
      default:
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(articleHtml(spec, page.url));
    }
  }

  function sendOversized(res: ServerResponse, declareLength: boolean): void {
    const chunk = Buffer.from(`<p>${'padding text for an enormous page '.repeat(1900)}</p>\n`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...(declareLength ? { 'content-length': String(oversizedBytes) } : {}) });
    let sent = 0;
    const pump = (): void => {
      while (!res.destroyed && sent < oversizedBytes) {
        const part = chunk.subarray(0, Math.min(chunk.length, oversizedBytes - sent));
        sent += part.length;
        if (!res.write(part)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  }

  function fail(res: ServerResponse, req: IncomingMessage, how: 'status-500' | 'status-503' | 'reset' | 'hang'): void {
    if (how === 'status-500') res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>Internal Server Error</h1>');
    else if (how === 'status-503') res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('overloaded');
    else if (how === 'reset') req.socket.resetAndDestroy();
    // 'hang': answer nothing; the fetcher's deadline ends it, stop() closes the socket.
  }

  function respond(state: PageState, req: IncomingMessage, res: ServerResponse, hop: string | null): void {
    const { page } = state;
    const failing = state.requests <= page.failuresBeforeHealthy;
    switch (page.kind) {
      case 'ok':
      case 'charset-mislabelled':
      case 'charset-unknown-label':
      case 'charset-meta-only':
        return sendArticle(state, res, page.kind);
      case 'slow':
        // Headers late, then the body in two parts: slow but well inside every fetch limit.
        return later(slowMs, () => {
          if (res.destroyed) return;
          const html = articleHtml(state.spec, page.url);
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.write(html.slice(0, html.length >> 1));
          later(slowMs >> 2, () => void (res.destroyed || res.end(html.slice(html.length >> 1))));
        });
      case 'redirect-ok':
        if (hop === null) return void res.writeHead(301, { location: `${page.path}/moved` }).end();
        return sendArticle(state, res, 'ok');
      case 'flaky-500':
        return failing ? fail(res, req, 'status-500') : sendArticle(state, res, 'ok');
      case 'flaky-503':
        return failing ? fail(res, req, 'status-503') : sendArticle(state, res, 'ok');
      case 'flaky-reset':
        return failing ? fail(res, req, 'reset') : sendArticle(state, res, 'ok');
      case 'flaky-hang':
        return failing ? fail(res, req, 'hang') : sendArticle(state, res, 'ok');
      case 'http-404':
        return void res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
      case 'http-410':
        return void res.writeHead(410, { 'content-type': 'text/html' }).end('<h1>Gone</h1>');
      case 'non-html':
        return void res.writeHead(200, { 'content-type': 'application/pdf' }).end(Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n', 'latin1'));
      case 'oversized':
        return sendOversized(res, true);
      case 'oversized-chunked':
        return sendOversized(res, false);
      case 'redirect-loop':
        // /page → /page/loop → /page → …: every hop looks new to a naive client.
        return void res.writeHead(302, { location: hop === null ? `${page.path}/loop` : page.path }).end();
      case 'always-500':
        return fail(res, req, 'status-500');
      case 'always-reset':
        return fail(res, req, 'reset');
      case 'always-hang':
        return fail(res, req, 'hang');
      case 'limited-429':
      case 'limited-503': {
        if (limitedAnswers >= limitCount) return sendArticle(state, res, 'ok');
        state.notBefore = Date.now() + 1000;
        limitedAnswers += 1;
        return void res.writeHead(page.kind === 'limited-429' ? 429 : 503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('slow down');
      }
    }
  }

  // The site and the rate-limiting host: the same pages table, each page served only on its own one.
  const serve = (limiter: boolean): Server => {
    const server = createServer((req, res) => {
      total += 1;
      if (limiter) limiterRequests += 1;
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const hopMatch = /^(.*)\/(moved|loop)$/.exec(path);
      const found = byPath.get(path) ?? (hopMatch ? byPath.get(hopMatch[1] ?? '') : undefined);
      const state = found && (found.page.category === 'rate-limited') === limiter ? found : undefined;
      if (!state) return void res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>No such page</h1>');
      state.requests += 1;
      if (Date.now() < state.notBefore) state.early += 1;
      respond(state, req, res, hopMatch && byPath.has(hopMatch[1] ?? '') ? (hopMatch[2] ?? null) : null);
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    // Many fetches at once during a chaos run; the default backlog (511) is fine, keep-alive short.
    server.keepAliveTimeout = 2_000;
    return server;
  };
  const listen = async (server: Server): Promise<number> => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return (server.address() as AddressInfo).port;
  };
  const server = serve(false);
  const limiterServer = serve(true);
  const port = await listen(server);
  const limiterPort = await listen(limiterServer);
  const limiterOrigin = `http://127.0.0.1:${limiterPort}`;

  const random = seededRandom(options.seed);
  const kinds = assignKinds(random, options.pages, mix);
  const pages: FaultPage[] = kinds.map((kind, index) => {
    const host = hostCount === 0 ? '127.0.0.1' : `s${index % hostCount}.fault.test`;
    const category = categoryOf(kind);
    const origin = category === 'rate-limited' ? limiterOrigin : `http://${host}:${port}`;
    const year = 2020 + (index % 6);
    const path = `/${year}/${String((index % 12) + 1).padStart(2, '0')}/story-${index}`;
    const url = `${origin}${path}`;
    const spec = articleSpec(random, index, origin, path);
    const page: FaultPage = {
      url,
      path,
      kind,
      category,
      failuresBeforeHealthy: category === 'transient' ? 1 + Math.floor(random() * maxTransientFailures) : 0,
      expected: expectedOutcome(kind, category),
      title: spec.title,
    };
    byPath.set(path, { page, spec, requests: 0, notBefore: 0, early: 0 });
    return page;
  });
  const byUrl = new Map(pages.map((page) => [page.url, page]));
  const limitedPages = pages.filter((page) => page.category === 'rate-limited').length;
  limitCount = options.limitedRequests ?? (limitedPages === 0 ? 0 : Math.max(1, Math.ceil(limitedPages / 4)));

  let stopped: Promise<void> | null = null;
  return {
    port,
    pages,
    page: (url) => byUrl.get(url),
    requests: (url) => {
      const page = byUrl.get(url);
      return page ? (byPath.get(page.path)?.requests ?? 0) : 0;
    },
    totalRequests: () => total,
    earlyRequests: (url) => {
      const page = byUrl.get(url);
      return page ? (byPath.get(page.path)?.early ?? 0) : 0;
    },
    limiter: { origin: limiterOrigin, requests: () => limiterRequests, limitedAnswers: () => limitedAnswers, limitedRequests: limitCount },
    resolver: async (hostname) => {
      if (/^s\d+\.fault\.test\.?$/.test(hostname)) return ['127.0.0.1'];
      throw Object.assign(new Error(`${hostname} is not a fault-site name`), { code: 'ENOTFOUND' });
    },
    counts: () => {
      const counts: Record<FaultCategory, number> = { healthy: 0, transient: 0, permanent: 0, never: 0, 'rate-limited': 0 };
      for (const page of pages) counts[page.category] += 1;
      return counts;
    },
    stop: () => {
      stopped ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const socket of sockets) socket.destroy();
        await Promise.all([server, limiterServer].map((each) => new Promise<void>((resolve) => each.close(() => resolve()))));
      })();
      return stopped;
    },
  };
}
