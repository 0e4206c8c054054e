/** The log fields every push delivery's line carries, from its outcome (shared by the scraper and the recorder). */
import type { LogEntry } from '../log';
import type { DeadLetterOutcome, ScrapeOutcome } from '../scrape';

export function deliveryFields(outcome: ScrapeOutcome | DeadLetterOutcome): Partial<LogEntry> {
  if (outcome.kind === 'malformed') return { outcome: outcome.kind, code: outcome.code, ...(outcome.messageId === undefined ? {} : { messageId: outcome.messageId }) };
  const { delivery } = outcome;
  return {
    outcome: outcome.kind,
    portfolioId: delivery.message.portfolioId,
    urlKey: delivery.message.urlKey,
    url: delivery.message.canonicalUrl,
    messageId: delivery.messageId,
    ...(delivery.deliveryAttempt === null ? {} : { deliveryAttempt: delivery.deliveryAttempt }),
  };
}
