/** The `recordDeadLetter` function's wiring: the push endpoint of the dead-letter subscription. */
import { verifyingPushes } from '../auth/pushAuth';
import { logRefusal, refusingCompressedBodies } from '../http/compressedBodies';
import type { HttpFunction, Request, Response } from '@google-cloud/functions-framework';
import type { Config } from '../config';
import type { LogEntry, Logger } from '../log';
import { recordDeadLetter, type DeadLetterOutcome, type Requeue } from '../scrape';
import type { ArticleStore } from '../store';
import { feedDeadLetterHandler } from '../feeds/deadLetter';
import { isFeedPush } from '../feeds/message';
import { deliveryFields } from './deliveryLog';

function deadLetterLog(outcome: DeadLetterOutcome): { severity: LogEntry['severity']; message: string; extra: Partial<LogEntry> } {
  switch (outcome.kind) {
    case 'failed':
      return { severity: 'WARNING', message: outcome.lastError.message, extra: { code: 'dead-lettered', attempts: outcome.attempts } };
    case 'skipped':
      return { severity: 'INFO', message: `Dead letter ignored (${outcome.reason})`, extra: { reason: outcome.reason } };
    case 'requeued':
      return outcome.to === 'delay'
        ? { severity: 'WARNING', message: `Re-queued a message whose deliveries our own outage used up (re-queue ${outcome.requeues}), not before ${outcome.notBefore?.toISOString()}`, extra: { requeues: outcome.requeues } }
        : { severity: 'INFO', message: 'A wait is over: published the message for the scraper again', extra: { requeues: outcome.requeues } };
    case 'not-yet':
      return { severity: 'INFO', message: `Waiting until ${outcome.notBefore.toISOString()}`, extra: { nextAttemptAt: outcome.notBefore.toISOString() } };
    case 'retry':
      return { severity: 'WARNING', message: `Could not record the dead letter, will retry: ${outcome.message}`, extra: { code: outcome.code } };
    case 'malformed':
      return { severity: 'ERROR', message: `Dropped a malformed dead letter: ${outcome.message}`, extra: {} };
  }
}

/**
 * `recordDeadLetter`: marks a dead-lettered article failed, or re-queues one our own outage cost its
 * deliveries; and, on the delay subscription, answers "not yet" until a waiting message's time.
 */
export function createDeadLetterFunction(deps: { config: Config; store: ArticleStore; now: () => Date; log: Logger; requeue: Requeue }): HttpFunction {
  const { store, now, log, requeue, config } = deps;
  const recordFeed = feedDeadLetterHandler(deps);
  // Only Pub/Sub's signed pushes get past verifyingPushes (when configured).
  return refusingCompressedBodies(verifyingPushes(config.push, log, 'recordDeadLetter', async (req: Request, res: Response): Promise<void> => {
    // A feed message's dead letter fails the portfolio's feeds instead (feeds/).
    if (isFeedPush(req.body)) return recordFeed(req, res);
    const started = Date.now();
    const outcome = await recordDeadLetter(req.body, { store, now, requeue, config });
    const { severity, message, extra } = deadLetterLog(outcome);
    log({ severity, message, ...deliveryFields(outcome), ...extra, durationMs: Date.now() - started });
    // "Not yet" is a nack by design: the delay subscription offers the message again after its backoff.
    res.status(outcome.kind === 'retry' || outcome.kind === 'not-yet' ? 503 : 204).end();
  }), logRefusal(log, 'recordDeadLetter'));
}
