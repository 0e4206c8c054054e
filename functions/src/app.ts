/**
 * Wires the three functions from their dependencies. Production (index.ts) passes real clients; the
 * local stack passes emulator clients; tests may also replace the fetcher, the extractor, the clock
 * and the logger.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { HttpFunction, Request, Response } from '@google-cloud/functions-framework';
import type { PubSub } from '@google-cloud/pubsub';
import { createApi, type PublishUrls } from './api';
import type { Config } from './config';
import { extractArticle as realExtractArticle } from './extract';
import { fetchPage as realFetchPage } from './fetch';
import { literalHostBlockReason } from './fetch/guard';
import { jsonLineLogger, type LogEntry, type Logger } from './log';
import { recordDeadLetter, scrape, type DeadLetterOutcome, type ScrapeDeps, type ScrapeOutcome, type UrlMessage } from './scrape';
import { firestoreStore, type ArticleStore } from './store';
import { messageAttributes } from './topology';

/** Dependencies of {@link createFunctions}. */
export interface FunctionDeps {
  config: Config;
  pubsub: PubSub;
  firestore: Firestore;
  fetchPage?: ScrapeDeps['fetchPage'];
  extractArticle?: ScrapeDeps['extract'];
  now?: () => Date;
  log?: Logger;
}

/** The three functions, as functions-framework HTTP handlers. */
export interface PipelineFunctions {
  api: HttpFunction;
  scrapeArticle: HttpFunction;
  recordDeadLetter: HttpFunction;
}

// Publisher batching: the API publishes up to 1,000 messages per request and flushes at once, so
// the delay only matters for requests arriving together; 100 messages per Publish call keeps each
// call small while 1,000 URLs take 10 calls in parallel.
const PUBLISH_BATCHING = { maxMessages: 100, maxMilliseconds: 5 };

function publisher(pubsub: PubSub, topicName: string): PublishUrls {
  const topic = pubsub.topic(topicName, { batching: PUBLISH_BATCHING });
  return async (messages: UrlMessage[]) => {
    const sends = messages.map((message) =>
      topic.publishMessage({
        data: Buffer.from(JSON.stringify(message)),
        attributes: { [messageAttributes.portfolioId]: message.portfolioId, [messageAttributes.urlKey]: message.urlKey },
      }),
    );
    // Send the last partial batch now rather than after maxMilliseconds.
    topic.flush().catch(() => undefined);
    return Promise.allSettled(sends);
  };
}

function deliveryFields(outcome: ScrapeOutcome | DeadLetterOutcome): Partial<LogEntry> {
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

/** HTTP status for a push delivery: 2xx acks, anything else asks Pub/Sub to redeliver with backoff. */
export function scrapeStatus(outcome: ScrapeOutcome): number {
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
    case 'skipped':
      return { severity: 'INFO', message: `Nothing to do (${outcome.reason})`, extra: { reason: outcome.reason } };
    case 'malformed':
      return { severity: 'ERROR', message: `Dropped a malformed push delivery: ${outcome.message}`, extra: {} };
  }
}

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

/** Creates `api`, `scrapeArticle` and `recordDeadLetter` around one store and one publisher. */
export function createFunctions(deps: FunctionDeps): PipelineFunctions {
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? jsonLineLogger();
  const store: ArticleStore = firestoreStore(deps.firestore, config.collectionPrefix);
  const scrapeDeps: ScrapeDeps = {
    fetchPage: deps.fetchPage ?? realFetchPage,
    extract: deps.extractArticle ?? realExtractArticle,
    store,
    now,
    config,
  };

  const api = createApi({
    config,
    store,
    publishUrls: publisher(deps.pubsub, config.topic),
    // The local stack scrapes loopback sites; there literal private hosts must be accepted too.
    blockReason: config.fetch.allowPrivateNetworks ? () => null : literalHostBlockReason,
    now,
    log,
  });

  const scrapeArticle = async (req: Request, res: Response): Promise<void> => {
    const started = Date.now();
    const outcome = await scrape(req.body, scrapeDeps);
    const status = scrapeStatus(outcome);
    const { severity, message, extra } = scrapeLog(outcome);
    log({ severity, message, ...deliveryFields(outcome), ...extra, durationMs: Date.now() - started });
    if (outcome.kind === 'retry' && outcome.httpStatus === 429) res.set('Retry-After', '30');
    res.status(status).end();
  };

  const recordDeadLetterFn = async (req: Request, res: Response): Promise<void> => {
    const started = Date.now();
    const outcome = await recordDeadLetter(req.body, { store, now });
    const { severity, message, extra } = deadLetterLog(outcome);
    log({ severity, message, ...deliveryFields(outcome), ...extra, durationMs: Date.now() - started });
    res.status(outcome.kind === 'retry' ? 503 : 204).end();
  };

  return { api, scrapeArticle, recordDeadLetter: recordDeadLetterFn };
}
