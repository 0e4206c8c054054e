/**
 * Retry rounds: `POST /portfolios/{id}/retry` queues the portfolio's failed articles again, exactly as
 * submitting a failed URL again would (a new message; the scraper starts a new round of attempts).
 *
 * The portfolio remembers its last round (when it was asked, which articles it queued). An article of
 * that round still `failed` from before the round was asked has not been picked up yet: it is in
 * flight, so asking again queues nothing for it (the endpoint is idempotent while the round runs),
 * and the status view shows it as `queued`.
 */
import type { ArticleRecord } from '../store';

/** The last retry round of a portfolio. */
export interface RetryRound {
  /** Taken before the round's messages were published. */
  requestedAt: Date;
  /** The articles the round queued. */
  urlKeys: string[];
}

/** Reads a stored round, tolerating anything malformed (then there is no round). */
export function retryRoundFromData(value: unknown): RetryRound | null {
  if (value === null || typeof value !== 'object') return null;
  const data = value as { requestedAt?: unknown; urlKeys?: unknown };
  const at = data.requestedAt as { toDate?: () => Date } | Date | undefined;
  const requestedAt = at instanceof Date ? at : typeof at?.toDate === 'function' ? at.toDate() : null;
  if (requestedAt === null || !Array.isArray(data.urlKeys)) return null;
  return { requestedAt, urlKeys: data.urlKeys.filter((key): key is string => typeof key === 'string') };
}

/** True when `article` was queued by `round` (whose keys are `inRound`) and the scraper has not picked that message up yet. */
function inFlight(article: ArticleRecord | null, round: RetryRound, inRound: Set<string>, urlKey: string): boolean {
  if (article?.status !== 'failed' || !inRound.has(urlKey)) return false;
  // Pub/Sub has not delivered it yet: the failure it shows is older than the round.
  return article.terminalAt === null || article.terminalAt.getTime() < round.requestedAt.getTime();
}

/**
 * The article as the status view should show it: one the current round re-queued is `queued` (its
 * old error is no longer its state), everything else as stored.
 */
export function asSeenDuringRound(articles: (ArticleRecord | null)[], urlKeys: string[], round: RetryRound | null | undefined): (ArticleRecord | null)[] {
  if (round === null || round === undefined) return articles;
  const inRound = new Set(round.urlKeys);
  return articles.map((article, index) => {
    if (article === null || !inFlight(article, round, inRound, urlKeys[index] ?? '')) return article;
    return { ...article, status: 'queued', lastError: null };
  });
}

/** Which of the portfolio's articles a retry asked now would queue, and how many are already in flight. */
export interface RetryPlan {
  /** Indexes (into the portfolio's urls) of failed articles to queue. */
  queue: number[];
  /** Indexes of failed articles the last round queued that have not been picked up yet. */
  inFlight: number[];
}

/** Decides a retry: every `failed` article not already in flight from the last round. */
export function planRetry(urlKeys: string[], articles: (ArticleRecord | null)[], round: RetryRound | null | undefined): RetryPlan {
  const plan: RetryPlan = { queue: [], inFlight: [] };
  const inRound = new Set(round?.urlKeys ?? []);
  urlKeys.forEach((urlKey, index) => {
    const article = articles[index] ?? null;
    if (article?.status !== 'failed') return;
    if (round && inFlight(article, round, inRound, urlKey)) plan.inFlight.push(index);
    else plan.queue.push(index);
  });
  return plan;
}

/**
 * The round to record after publishing: the articles just queued, plus those of the previous round
 * still in flight (their failure is older than this round too, so they stay in flight).
 */
export function nextRound(queuedKeys: string[], stillInFlightKeys: string[], requestedAt: Date): RetryRound {
  return { requestedAt, urlKeys: [...new Set([...queuedKeys, ...stillInFlightKeys])] };
}
