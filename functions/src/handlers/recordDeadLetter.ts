/** The `recordDeadLetter` function's wiring: the push endpoint of the dead-letter subscription. */
import { logRefusal, refusingCompressedBodies } from '../http/compressedBodies';
import type { HttpFunction, Request, Response } from '@google-cloud/functions-framework';
import type { LogEntry, Logger } from '../log';
import { recordDeadLetter, type DeadLetterOutcome } from '../scrape';
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
    case 'retry':
      return { severity: 'WARNING', message: `Could not record the dead letter, will retry: ${outcome.message}`, extra: { code: outcome.code } };
    case 'malformed':
      return { severity: 'ERROR', message: `Dropped a malformed dead letter: ${outcome.message}`, extra: {} };
  }
}

/** `recordDeadLetter`: marks a dead-lettered article failed. */
export function createDeadLetterFunction(deps: { store: ArticleStore; now: () => Date; log: Logger }): HttpFunction {
  const { store, now, log } = deps;
  const recordFeed = feedDeadLetterHandler(deps);
  return refusingCompressedBodies(async (req: Request, res: Response): Promise<void> => {
    // A feed message's dead letter fails the portfolio's feeds instead (feeds/).
    if (isFeedPush(req.body)) return recordFeed(req, res);
    const started = Date.now();
    const outcome = await recordDeadLetter(req.body, { store, now });
    const { severity, message, extra } = deadLetterLog(outcome);
    log({ severity, message, ...deliveryFields(outcome), ...extra, durationMs: Date.now() - started });
    res.status(outcome.kind === 'retry' ? 503 : 204).end();
  }, logRefusal(log, 'recordDeadLetter'));
}
