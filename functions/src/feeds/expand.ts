/**
 * Expands a portfolio's feeds (one feed message per portfolio, named after its first feed): fetch each through the same SSRF-guarded fetcher as articles, read its
 * links (a sitemap index's sitemaps followed to a bounded depth), canonicalise and de-duplicate them,
 * add the new ones to the portfolio (bounded by MAX_URLS_PER_REQUEST and the portfolio's byte limit)
 * and queue one article message each. Delivery is at-least-once, so it is idempotent:
 *
 * 1. the links are added in a transaction that records them on the feed (`addedKeys`), still `queued`;
 * 2. a message is published for every key the feed added (again on a redelivery: harmless, the
 *    scraper skips what is already resolved);
 * 3. only then the feed becomes `done`. A failed publish answers 503 and the delivery comes back.
 *
 * Fetch failures follow the article rules: permanent (404, not a feed…) → `failed` at once; transient
 * → recorded and retried by Pub/Sub until the dead-letter recorder marks the feed `failed`.
 */
import type { Config } from '../config';
import { FetchError, type FetchedPage, type FetchOptions } from '../fetch/types';
import { decodePushEnvelope, MalformedMessageError, type Delivery, type UrlMessage } from '../scrape';
import { isTransientStorageError, type PortfolioRecord } from '../store';
import { canonicalizeUrl, type HostBlockCheck } from '../urls';
import { FEED_ACCEPT, FEED_MEDIA_TYPES, FeedFormatError, parseFeed, type FeedKind } from './parse';
import type { FeedRecord } from './record';

/** Sitemap indexes are followed this deep (index → sitemaps → sitemaps of a nested index). */
export const MAX_SITEMAP_DEPTH = 2;
/** Documents fetched for one feed at most (the feed itself and the sitemaps it points to). */
export const MAX_FEED_DOCUMENTS = 25;

/** Dependencies of {@link expandFeed}. */
export interface FeedDeps {
  fetchPage: (url: string, options?: Partial<FetchOptions>) => Promise<FetchedPage>;
  getPortfolio: (portfolioId: string) => Promise<PortfolioRecord | null>;
  /** Reads the portfolio, calls `change` and writes what it returns, atomically. */
  updatePortfolio: <T>(portfolioId: string, change: (current: PortfolioRecord | null) => { next: PortfolioRecord | null; result: T }) => Promise<T>;
  publishUrls: (messages: UrlMessage[]) => Promise<PromiseSettledResult<string>[]>;
  blockReason: HostBlockCheck;
  now: () => Date;
  config: Pick<Config, 'fetch' | 'api'>;
  /** Byte limit of a portfolio's URLs (api.ts's). */
  portfolioUrlBytesLimit: number;
}

/** What happened to one feed delivery. */
export type FeedOutcome =
  | { kind: 'done'; delivery: Delivery; feedKind: string; found: number; added: number; skipped: number }
  | { kind: 'failed'; delivery: Delivery; code: string; message: string }
  | { kind: 'retry'; delivery: Delivery; code: string; message: string; httpStatus: 429 | 503 }
  | { kind: 'skipped'; delivery: Delivery; reason: 'already-resolved' }
  | { kind: 'malformed'; code: 'malformed-message'; message: string; messageId?: string };

class Transient extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: 429 | 503 = 503,
  ) {
    super(message);
  }
}

class Permanent extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The feed of the message in `portfolio`, with its index. */
function findFeed(portfolio: PortfolioRecord | null, urlKey: string): { feeds: FeedRecord[]; index: number } | null {
  const feeds = portfolio?.feeds ?? [];
  const index = feeds.findIndex((feed) => feed.urlKey === urlKey);
  return index < 0 ? null : { feeds, index };
}

function withFeed(portfolio: PortfolioRecord, feeds: FeedRecord[], index: number, feed: FeedRecord): PortfolioRecord {
  return { ...portfolio, feeds: feeds.map((entry, position) => (position === index ? feed : entry)) };
}

/** Fetches and parses one document; FetchError and FeedFormatError become Transient / Permanent. */
async function readDocument(url: string, deps: FeedDeps): Promise<{ kind: FeedKind; links: string[] }> {
  let page: FetchedPage;
  try {
    page = await deps.fetchPage(url, { ...deps.config.fetch, accept: { header: FEED_ACCEPT, mediaTypes: FEED_MEDIA_TYPES } });
  } catch (error) {
    if (error instanceof FetchError) {
      if (!error.retryable) throw new Permanent(error.code, error.message);
      throw new Transient(error.code, error.message, error.code === 'http-429' || error.code === 'host-busy' ? 429 : 503);
    }
    throw error;
  }
  try {
    return parseFeed(page.html, page.finalUrl);
  } catch (error) {
    if (error instanceof FeedFormatError) throw new Permanent('feed-invalid', `${url}: ${error.message}`);
    throw error;
  }
}

/** Every article link of the feed: a sitemap index's sitemaps are read in turn, breadth first, bounded. */
export async function feedLinks(url: string, deps: FeedDeps, limit: number): Promise<{ kind: FeedKind; links: string[] }> {
  const first = await readDocument(url, deps);
  if (first.kind !== 'sitemap-index') return first;
  const links: string[] = [];
  let level = first.links.map((link) => ({ link, depth: 1 }));
  let fetched = 1;
  const seen = new Set([url]);
  while (level.length > 0 && links.length < limit) {
    const next: typeof level = [];
    for (const { link, depth } of level) {
      if (fetched >= MAX_FEED_DOCUMENTS || links.length >= limit) break;
      if (seen.has(link)) continue;
      seen.add(link);
      fetched += 1;
      let document: { kind: FeedKind; links: string[] };
      try {
        document = await readDocument(link, deps);
      } catch (error) {
        // One unreadable sitemap of an index costs its own links only; a transient failure retries all.
        if (error instanceof Permanent) continue;
        throw error;
      }
      if (document.kind === 'sitemap-index') {
        if (depth < MAX_SITEMAP_DEPTH) next.push(...document.links.map((child) => ({ link: child, depth: depth + 1 })));
      } else {
        links.push(...document.links);
      }
    }
    level = next;
  }
  return { kind: 'sitemap-index', links };
}

/** Canonical, de-duplicated candidates, and how many links were refused. */
export function canonicalLinks(links: string[], blockReason: HostBlockCheck, portfolioId: string): { messages: UrlMessage[]; refused: number } {
  const seen = new Set<string>();
  const messages: UrlMessage[] = [];
  let refused = 0;
  for (const link of links) {
    const result = canonicalizeUrl(link, { blockReason });
    if (!result.ok) {
      refused += 1;
    } else if (!seen.has(result.urlKey)) {
      seen.add(result.urlKey);
      messages.push({ url: link, canonicalUrl: result.canonicalUrl, urlKey: result.urlKey, portfolioId });
    }
  }
  return { messages, refused };
}

/**
 * The portfolio with the new candidates added (in order, while there is room), the feed recording
 * what it added. Pure: it runs inside a transaction and may run more than once.
 */
export function addFeedLinks(
  portfolio: PortfolioRecord,
  feedIndex: number,
  candidates: UrlMessage[],
  refused: number,
  kind: FeedKind,
  limits: { maxUrls: number; maxBytes: number },
): { next: PortfolioRecord; feed: FeedRecord } {
  const feeds = portfolio.feeds ?? [];
  const feed = feeds[feedIndex]!;
  const present = new Set(portfolio.urlKeys);
  const urls = [...portfolio.urls];
  const urlKeys = [...portfolio.urlKeys];
  let bytes = urls.reduce((sum, url, index) => sum + Buffer.byteLength(url) + (urlKeys[index]?.length ?? 0), 0);
  const added = new Set(feed.addedKeys);
  let skipped = refused;
  for (const candidate of candidates) {
    if (present.has(candidate.urlKey)) continue;
    const size = Buffer.byteLength(candidate.canonicalUrl) + candidate.urlKey.length;
    if (urls.length >= limits.maxUrls || bytes + size > limits.maxBytes) {
      skipped += 1;
      continue;
    }
    urls.push(candidate.canonicalUrl);
    urlKeys.push(candidate.urlKey);
    present.add(candidate.urlKey);
    added.add(candidate.urlKey);
    bytes += size;
  }
  const updated: FeedRecord = { ...feed, kind, found: candidates.length, addedKeys: [...added], skipped };
  return { next: withFeed({ ...portfolio, urls, urlKeys }, feeds, feedIndex, updated), feed: updated };
}

/** Sets the fields of feed `urlKey` in `current`, when it is still queued (null = write nothing). */
function updateQueuedFeed(current: PortfolioRecord | null, urlKey: string, fields: Partial<FeedRecord>): { next: PortfolioRecord | null; result: null } {
  const located = findFeed(current, urlKey);
  const feed = located?.feeds[located.index];
  if (!current || !located || !feed || feed.status !== 'queued') return { next: null, result: null };
  return { next: withFeed(current, located.feeds, located.index, { ...feed, ...fields }), result: null };
}

type FeedResult = { kind: 'done'; feedKind: FeedKind; found: number; added: number; skipped: number } | { kind: 'failed'; code: string; message: string };

/** Expands one queued feed of the portfolio; throws Transient (or a storage error) when it should be retried. */
async function expandOne(portfolioId: string, urlKey: string, canonicalUrl: string, deps: FeedDeps): Promise<FeedResult> {
  let document: { kind: FeedKind; links: string[] };
  try {
    document = await feedLinks(canonicalUrl, deps, deps.config.api.maxUrls * 2);
  } catch (error) {
    if (!(error instanceof Permanent)) throw error;
    const now = deps.now();
    await deps.updatePortfolio(portfolioId, (current) => updateQueuedFeed(current, urlKey, { status: 'failed', error: { code: error.code, message: error.message, at: now }, terminalAt: now }));
    return { kind: 'failed', code: error.code, message: error.message };
  }
  const { messages, refused } = canonicalLinks(document.links, deps.blockReason, portfolioId);
  const limits = { maxUrls: deps.config.api.maxUrls, maxBytes: deps.portfolioUrlBytesLimit };
  const recorded = await deps.updatePortfolio(portfolioId, (current) => {
    const located = findFeed(current, urlKey);
    if (!current || !located || located.feeds[located.index]?.status !== 'queued') return { next: null, result: null };
    const { next, feed } = addFeedLinks(current, located.index, messages, refused, document.kind, limits);
    return { next, result: { feed, urls: next.urls, urlKeys: next.urlKeys } };
  });
  if (recorded === null) throw new Transient('feed-changed', 'The feed was resolved by another delivery meanwhile.');
  const addedKeys = new Set(recorded.feed.addedKeys);
  const toQueue: UrlMessage[] = [];
  recorded.urlKeys.forEach((key, index) => {
    if (addedKeys.has(key)) toQueue.push({ url: recorded.urls[index] ?? '', canonicalUrl: recorded.urls[index] ?? '', urlKey: key, portfolioId });
  });
  const results = toQueue.length === 0 ? [] : await deps.publishUrls(toQueue);
  const notQueued = results.filter((result) => result.status !== 'fulfilled').length;
  if (notQueued > 0) throw new Transient('publish-failed', `${notQueued} of ${toQueue.length} article messages of the feed could not be published; the delivery will be retried.`);
  const now = deps.now();
  await deps.updatePortfolio(portfolioId, (current) => updateQueuedFeed(current, urlKey, { status: 'done', error: null, terminalAt: now }));
  return { kind: 'done', feedKind: document.kind, found: recorded.feed.found, added: recorded.feed.addedKeys.length, skipped: recorded.feed.skipped };
}

function transientOf(error: unknown): Transient {
  if (error instanceof Transient) return error;
  if (isTransientStorageError(error)) return new Transient('storage-unavailable', `Firestore is unavailable (${describe(error)}); the delivery will be retried.`);
  return new Transient('internal-error', `Unexpected error: ${describe(error)}`);
}

/**
 * Handles one push delivery of a portfolio's feed message: expands each of its feeds still queued, in
 * turn (one message per portfolio, so no two deliveries rewrite the portfolio at once). A feed that
 * fails for good is recorded and the others go on; if one should be retried, it is recorded on that
 * feed and the delivery is answered for a redelivery, which skips the feeds already resolved.
 * Never throws.
 */
export async function expandFeed(body: unknown, deps: FeedDeps): Promise<FeedOutcome> {
  let delivery: Delivery;
  try {
    delivery = decodePushEnvelope(body);
  } catch (error) {
    return { kind: 'malformed', code: 'malformed-message', message: describe(error), ...(error instanceof MalformedMessageError && error.messageId ? { messageId: error.messageId } : {}) };
  }
  const { portfolioId } = delivery.message;
  let portfolio: PortfolioRecord | null;
  try {
    portfolio = await deps.getPortfolio(portfolioId);
  } catch (error) {
    const failure = transientOf(error);
    return { kind: 'retry', delivery, code: failure.code, message: failure.message, httpStatus: failure.httpStatus };
  }
  const feeds = portfolio?.feeds ?? [];
  // The API writes the portfolio while it publishes, so a delivery may come first: ask for it again
  // (if the portfolio was never recorded, the message ends dead-lettered and is ignored there).
  if (feeds.length === 0) {
    return { kind: 'retry', delivery, code: 'portfolio-not-recorded', message: `Portfolio ${portfolioId} has no feeds recorded (yet); the delivery will be retried.`, httpStatus: 503 };
  }
  const queued = feeds.filter((feed) => feed.status === 'queued');
  if (queued.length === 0) return { kind: 'skipped', delivery, reason: 'already-resolved' };
  const summary = { done: 0, failed: 0, found: 0, added: 0, skipped: 0, kinds: new Set<FeedKind>() };
  let retry: Transient | null = null;
  let lastFailure: { code: string; message: string } | null = null;
  for (const feed of queued) {
    try {
      const result = await expandOne(portfolioId, feed.urlKey, feed.canonicalUrl, deps);
      if (result.kind === 'failed') {
        summary.failed += 1;
        lastFailure = result;
      } else {
        summary.done += 1;
        summary.found += result.found;
        summary.added += result.added;
        summary.skipped += result.skipped;
        summary.kinds.add(result.feedKind);
      }
    } catch (error) {
      const failure = transientOf(error);
      retry ??= failure;
      // Recorded on the feed (still queued), so a dead letter can name it; best effort.
      const at = deps.now();
      await deps.updatePortfolio(portfolioId, (current) => updateQueuedFeed(current, feed.urlKey, { error: { code: failure.code, message: failure.message, at } })).catch(() => undefined);
    }
  }
  if (retry) return { kind: 'retry', delivery, code: retry.code, message: retry.message, httpStatus: retry.httpStatus };
  if (summary.done === 0 && lastFailure) return { kind: 'failed', delivery, code: lastFailure.code, message: lastFailure.message };
  return { kind: 'done', delivery, feedKind: [...summary.kinds].join('+'), found: summary.found, added: summary.added, skipped: summary.skipped };
}
