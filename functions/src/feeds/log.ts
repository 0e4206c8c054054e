/** One log line and the push answer for a feed delivery (2xx acks; 503/429 asks for a redelivery with backoff). */
import type { Response } from '@google-cloud/functions-framework';
import type { LogEntry, Logger } from '../log';
import type { FeedDeadLetterOutcome } from './deadLetter';
import type { FeedOutcome } from './expand';

function logLine(outcome: FeedOutcome | FeedDeadLetterOutcome): { severity: LogEntry['severity']; message: string; fields: Partial<LogEntry> } {
  const about = outcome.kind === 'malformed' ? {} : { portfolioId: outcome.delivery.message.portfolioId, url: outcome.delivery.message.canonicalUrl, messageId: outcome.delivery.messageId };
  switch (outcome.kind) {
    case 'done':
      return { severity: 'INFO', message: `Feed expanded (${outcome.feedKind}): ${outcome.found} found, ${outcome.added} added, ${outcome.skipped} skipped`, fields: about };
    case 'failed':
      return { severity: 'WARNING', message: `Feed failed: ${outcome.message}`, fields: { ...about, code: outcome.code } };
    case 'retry':
      return { severity: outcome.code === 'internal-error' ? 'ERROR' : 'WARNING', message: `Feed will be retried: ${outcome.message}`, fields: { ...about, code: outcome.code } };
    case 'skipped':
      return { severity: 'INFO', message: `Feed: nothing to do (${outcome.reason})`, fields: about };
    case 'malformed':
      return { severity: 'ERROR', message: `Dropped a malformed feed delivery: ${outcome.message}`, fields: { code: outcome.code } };
  }
}

/** Logs the outcome and answers the push. */
export function answerDelivery(log: Logger, outcome: FeedOutcome | FeedDeadLetterOutcome, res: Response, started: number): void {
  const { severity, message, fields } = logLine(outcome);
  log({ severity, message, outcome: outcome.kind, ...fields, durationMs: Date.now() - started });
  if (outcome.kind === 'retry' && outcome.httpStatus === 429) res.set('Retry-After', '30');
  res.status(outcome.kind === 'retry' ? outcome.httpStatus : 204).end();
}

