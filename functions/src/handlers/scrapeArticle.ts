/** The `scrapeArticle` function's wiring: the push endpoint of the URL subscription. */
import type { HttpFunction, Request, Response } from '@google-cloud/functions-framework';
import type { Config } from '../config';
import { fetchPage as realFetchPage } from '../fetch';
import { verifyingPushes } from '../auth/pushAuth';
import { logRefusal, refusingCompressedBodies } from '../http/compressedBodies';
import { sharedExtractPool } from '../isolation/extractPool';
import type { LogEntry, Logger } from '../log';
import { HostBackoff } from '../retry';
import { scrape, type Requeue, type ScrapeDeps, type ScrapeOutcome } from '../scrape';
import type { ArticleStore } from '../store';
import type { PublishUrls } from '../api';
import { feedExpandHandler } from '../feeds/functions';
import { isFeedPush } from '../feeds/message';
import { deliveryFields } from './deliveryLog';

/** HTTP status for a push delivery: 2xx acks, anything else asks Pub/Sub to redeliver with backoff. */
export function scrapeStatus(outcome: ScrapeOutcome): number {
  // A round that failed on its last allowed fetch is recorded, and still nacked: on the message's last
  // delivery Pub/Sub then dead-letters it, so the dead-letter audit subscription keeps it for
  // `npm run redrive`; an earlier redelivery finds the round resolved and is acked.
  if (outcome.kind === 'failed' && outcome.code === 'dead-lettered') return 503;
  return outcome.kind === 'retry' ? outcome.httpStatus : 204;
}

/**
 * host-busy is the instance shedding load by design (a portfolio of one site queues for that site's
 * slots), not a fault; it is logged as INFO so it doesn't drown real warnings. If it persists, the
 * dead letter is logged as a WARNING naming it as the last error.
 */
function retrySeverity(code: string): LogEntry['severity'] {
  if (code === 'internal-error') return 'ERROR';
  return code === 'host-busy' ? 'INFO' : 'WARNING';
}

function scrapeLog(outcome: ScrapeOutcome): { severity: LogEntry['severity']; message: string; extra: Partial<LogEntry> } {
  switch (outcome.kind) {
    case 'done':
      return { severity: 'INFO', message: `Scraped ${outcome.finalUrl}`, extra: { attempts: outcome.attempts } };
    case 'failed':
      return { severity: 'WARNING', message: `Failed permanently: ${outcome.message}`, extra: { code: outcome.code, attempts: outcome.attempts } };
    case 'retry':
      return { severity: retrySeverity(outcome.code), message: `Will retry: ${outcome.message}`, extra: { code: outcome.code, attempts: outcome.attempts } };
    case 'waiting':
      return {
        severity: 'INFO',
        message: `Waiting for ${outcome.waitingFor} until ${outcome.until.toISOString()}`,
        extra: { ...(outcome.code === null ? {} : { code: outcome.code }), attempts: outcome.attempts, waitingFor: outcome.waitingFor, nextAttemptAt: outcome.until.toISOString() },
      };
    case 'skipped':
      return { severity: 'INFO', message: `Nothing to do (${outcome.reason})`, extra: { reason: outcome.reason } };
    case 'malformed':
      return { severity: 'ERROR', message: `Dropped a malformed push delivery: ${outcome.message}`, extra: {} };
  }
}

/** `scrapeArticle`: fetches, extracts and stores one article per push delivery. */
export function createScrapeFunction(deps: {
  config: Config;
  store: ArticleStore;
  now: () => Date;
  log: Logger;
  /** Where a message that must wait is parked (retry/requeue.ts). */
  requeue: Requeue;
  fetchPage?: ScrapeDeps['fetchPage'];
  extractArticle?: ScrapeDeps['extract'];
  /** For the articles a feed yields (the deployed entry makes its client on first use). */
  publishUrls: PublishUrls;
}): HttpFunction {
  const { log } = deps;
  const scrapeDeps: ScrapeDeps = {
    fetchPage: deps.fetchPage ?? realFetchPage,
    // Off the event loop, within a deadline and a heap limit: one page never stalls the others.
    extract: deps.extractArticle ?? ((html, pageUrl) => sharedExtractPool().extract(html, pageUrl)),
    store: deps.store,
    now: deps.now,
    config: deps.config,
    requeue: deps.requeue,
    hosts: new HostBackoff({ baseMs: deps.config.retry.hostBackoffBaseMs, maxMs: deps.config.retry.retryAfterMaxMs, forgetAfterMs: deps.config.retry.retryAfterMaxMs * 2 }),
  };
  const expandFeed = feedExpandHandler({ ...deps, fetchPage: scrapeDeps.fetchPage, publishUrls: deps.publishUrls });
  // Only Pub/Sub's signed pushes get past verifyingPushes (when configured).
  return refusingCompressedBodies(verifyingPushes(deps.config.push, log, 'scrapeArticle', async (req: Request, res: Response): Promise<void> => {
    // A feed message (kind=feed) is expanded into article messages instead (feeds/).
    if (isFeedPush(req.body)) return expandFeed(req, res);
    const started = Date.now();
    const outcome = await scrape(req.body, scrapeDeps);
    const status = scrapeStatus(outcome);
    const { severity, message, extra } = scrapeLog(outcome);
    log({ severity, message, ...deliveryFields(outcome), ...extra, durationMs: Date.now() - started });
    if (outcome.kind === 'retry' && outcome.httpStatus === 429) res.set('Retry-After', '30');
    res.status(status).end();
  }), logRefusal(log, 'scrapeArticle'));
}
