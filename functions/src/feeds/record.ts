/**
 * A feed of a portfolio (`portfolios/{id}.feeds[]`): the feed or sitemap submitted, where its
 * expansion is, what it yielded or why it failed. Kept in the portfolio document, so the status
 * view reads it with the portfolio (no extra read per poll).
 */
import type { ErrorRecord } from '../store';

/** One submitted feed. */
export interface FeedRecord {
  /** As submitted. */
  url: string;
  canonicalUrl: string;
  urlKey: string;
  /** `queued` until expanded (`done`) or given up (`failed`). */
  status: 'queued' | 'done' | 'failed';
  /** What the document turned out to be (rss, atom, json-feed, sitemap, sitemap-index…), once read. */
  kind: string | null;
  /** Distinct article URLs found (after canonicalising). */
  found: number;
  /** Keys of the articles this feed added to the portfolio (those not already in it). */
  addedKeys: string[];
  /** Found but not added: over the portfolio's URL limit, or refused (not http(s), blocked address…). */
  skipped: number;
  error: ErrorRecord | null;
  /** When it became `done` or `failed`. */
  terminalAt: Date | null;
  /**
   * When it was last queued (submitted, or queued again by a retry); null in records written before
   * this was kept. A dead letter of a feed message published before it belongs to an earlier round.
   */
  queuedAt: Date | null;
}

/** A new feed, waiting for the pipeline (queued at `queuedAt`). */
export function queuedFeed(item: { url: string; canonicalUrl: string; urlKey: string }, queuedAt: Date): FeedRecord {
  return { url: item.url, canonicalUrl: item.canonicalUrl, urlKey: item.urlKey, status: 'queued', kind: null, found: 0, addedKeys: [], skipped: 0, error: null, terminalAt: null, queuedAt };
}

function date(value: unknown): Date | null {
  if (value instanceof Date) return value;
  const timestamp = value as { toDate?: () => Date } | null;
  return timestamp && typeof timestamp.toDate === 'function' ? timestamp.toDate() : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function errorFrom(value: unknown): ErrorRecord | null {
  const data = value as Record<string, unknown> | null;
  if (data === null || typeof data !== 'object' || typeof data.code !== 'string' || typeof data.message !== 'string') return null;
  const cause = errorFrom(data.cause);
  return { code: data.code, message: data.message, at: date(data.at) ?? new Date(0), ...(cause ? { cause: { code: cause.code, message: cause.message, at: cause.at } } : {}) };
}

/** Reads the stored feeds of a portfolio, tolerating anything malformed (then it has none). */
export function feedsFromData(value: unknown): FeedRecord[] | null {
  if (!Array.isArray(value)) return null;
  const feeds: FeedRecord[] = [];
  for (const entry of value as Record<string, unknown>[]) {
    const url = str(entry?.url);
    const canonicalUrl = str(entry?.canonicalUrl);
    const urlKey = str(entry?.urlKey);
    if (url === null || canonicalUrl === null || urlKey === null) continue;
    const status = entry.status === 'done' || entry.status === 'failed' ? entry.status : 'queued';
    feeds.push({
      url,
      canonicalUrl,
      urlKey,
      status,
      kind: str(entry.kind),
      found: typeof entry.found === 'number' ? entry.found : 0,
      addedKeys: Array.isArray(entry.addedKeys) ? entry.addedKeys.filter((key): key is string => typeof key === 'string') : [],
      skipped: typeof entry.skipped === 'number' ? entry.skipped : 0,
      error: errorFrom(entry.error),
      terminalAt: date(entry.terminalAt),
      queuedAt: date(entry.queuedAt),
    });
  }
  return feeds;
}

/** A feed as the status view shows it. */
export function feedView(feed: FeedRecord): Record<string, unknown> {
  return {
    url: feed.url,
    status: feed.status,
    kind: feed.kind,
    found: feed.found,
    added: feed.addedKeys.length,
    skipped: feed.skipped,
    ...(feed.status === 'failed' && feed.error
      ? { error: { code: feed.error.code, message: feed.error.message, at: feed.error.at.toISOString(), ...(feed.error.cause ? { cause: { code: feed.error.cause.code, message: feed.error.cause.message } } : {}) } }
      : {}),
  };
}
