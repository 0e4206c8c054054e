/**
 * The dead-letter recorder's part for a feed message: every feed of the portfolio still queued by the
 * round the message belongs to becomes `failed` with code `dead-lettered`, naming the last error
 * recorded on it. Kept apart from the expander so the recorder loads no fetcher or parser.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Logger } from '../log';
import { decodePushEnvelope, type Delivery } from '../scrape';
import type { ArticleStore, ErrorRecord, PortfolioRecord } from '../store';
import { answerDelivery } from './log';
import type { FeedRecord } from './record';

/** What the recorder did with a feed's dead letter. */
export type FeedDeadLetterOutcome =
  | { kind: 'failed'; delivery: Delivery; code: string; message: string }
  | { kind: 'retry'; delivery: Delivery; code: string; message: string; httpStatus: 503 }
  | { kind: 'skipped'; delivery: Delivery; reason: 'already-resolved' }
  | { kind: 'malformed'; code: 'malformed-message'; message: string };

/** Dependencies: the portfolio transaction and the clock. */
export interface FeedDeadLetterDeps {
  updatePortfolio: <T>(portfolioId: string, change: (current: PortfolioRecord | null) => { next: PortfolioRecord | null; result: T }) => Promise<T>;
  now: () => Date;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Handles one push delivery of a feed message on the dead-letter subscription. Never throws. */
export async function recordFeedDeadLetter(body: unknown, deps: FeedDeadLetterDeps): Promise<FeedDeadLetterOutcome> {
  let delivery: Delivery;
  try {
    delivery = decodePushEnvelope(body);
  } catch (error) {
    return { kind: 'malformed', code: 'malformed-message', message: describe(error) };
  }
  const { portfolioId } = delivery.message;
  try {
    const now = deps.now();
    const count = Number(delivery.attributes.CloudPubSubDeadLetterSourceDeliveryCount);
    const attempts = Number.isInteger(count) && count > 0 ? `${count} delivery attempts` : 'several delivery attempts';
    // A feed queued after this message was published waits for a later message (a retry's): this
    // dead letter, late or delivered again, is of an earlier round and must not fail it.
    const ofThisRound = (feed: FeedRecord): boolean =>
      feed.status === 'queued' && !(feed.queuedAt !== null && delivery.publishTime !== null && feed.queuedAt.getTime() > delivery.publishTime.getTime());
    const failed = await deps.updatePortfolio(portfolioId, (current) => {
      const feeds = current?.feeds ?? [];
      if (!current || !feeds.some(ofThisRound)) return { next: null, result: null };
      let last: ErrorRecord | null = null;
      const next = feeds.map((feed) => {
        if (!ofThisRound(feed)) return feed;
        const cause = feed.error;
        const error: ErrorRecord = {
          code: 'dead-lettered',
          message: cause ? `Gave up after ${attempts}; the last error was ${cause.code}: ${cause.message}` : `Gave up after ${attempts}; no error was recorded.`,
          at: now,
          cause: cause ? { code: cause.code, message: cause.message, at: cause.at } : null,
        };
        last = error;
        return { ...feed, status: 'failed' as const, error, terminalAt: now };
      });
      return { next: { ...current, feeds: next }, result: last as ErrorRecord | null };
    });
    if (failed === null) return { kind: 'skipped', delivery, reason: 'already-resolved' };
    return { kind: 'failed', delivery, code: failed.code, message: failed.message };
  } catch (error) {
    return { kind: 'retry', delivery, code: 'storage-unavailable', message: describe(error), httpStatus: 503 };
  }
}

/** The dead-letter endpoint's handler for a feed message. */
export function feedDeadLetterHandler(deps: { store: ArticleStore; now: () => Date; log: Logger }): (req: Request, res: Response) => Promise<void> {
  const feedDeps = { updatePortfolio: deps.store.updatePortfolio.bind(deps.store), now: deps.now };
  return async (req, res) => {
    const started = Date.now();
    answerDelivery(deps.log, await recordFeedDeadLetter(req.body, feedDeps), res, started);
  };
}
