/**
 * Retry of a portfolio's failed feeds (`POST /portfolios/{id}/retry`): each failed feed is `queued`
 * again in the portfolio document, in one atomic update, and one feed message is published for them
 * (the expander reads every queued feed of the portfolio). A feed queued again is no longer failed,
 * so asking again while it is in flight queues nothing more.
 */
import type { FeedRecord } from '../feeds/record';
import type { PortfolioRecord } from '../store';

/** The portfolio with its failed feeds queued again at `now`, and the feeds as they were (null = nothing to write). */
export function requeueFailedFeeds(current: PortfolioRecord | null, now: Date): { next: PortfolioRecord | null; result: FeedRecord[] } {
  const feeds = current?.feeds ?? [];
  const failed = feeds.filter((feed) => feed.status === 'failed');
  if (current === null || failed.length === 0) return { next: null, result: [] };
  const next = feeds.map((feed): FeedRecord => (feed.status === 'failed' ? { ...feed, status: 'queued', error: null, terminalAt: null, queuedAt: now } : feed));
  return { next: { ...current, feeds: next }, result: failed };
}

/**
 * Puts back feeds whose message could not be published (they are failed as before), unless the
 * expander has picked them up meanwhile (no longer queued).
 */
export function restoreFeeds(current: PortfolioRecord | null, previous: FeedRecord[]): { next: PortfolioRecord | null; result: null } {
  const byKey = new Map(previous.map((feed) => [feed.urlKey, feed]));
  if (current === null || !current.feeds?.some((feed) => feed.status === 'queued' && byKey.has(feed.urlKey))) return { next: null, result: null };
  return { next: { ...current, feeds: current.feeds.map((feed) => (feed.status === 'queued' ? (byKey.get(feed.urlKey) ?? feed) : feed)) }, result: null };
}
