/**
 * The scraper's domain: decode a push delivery, decide whether it needs work, fetch, extract and
 * record the outcome; and the dead-letter recorder's. Dependencies come in as parameters so unit
 * tests pass fakes and the functions pass the real ones.
 *
 * Idempotency under at-least-once delivery rests on two rules, both checked inside a transaction:
 * - a submission is satisfied by any `done`/`failed` result reached after it was published (so a
 *   duplicate or late delivery of a message already resolved changes nothing);
 * - a `done` article scraped within the freshness window is not fetched again.
 * Nothing but a successful scrape writes over a `done` article.
 */
import type { Config } from './config';
import type { Article } from './extract/types';
import { FetchError, type FetchedPage } from './fetch/types';
import { PageTooComplex } from './isolation/parseBudget';
import {
  fieldsFromArticle,
  isTransientStorageError,
  queuedArticle,
  type ArticleChange,
  type ArticleRecord,
  type ArticleStore,
  type ErrorRecord,
} from './store';
import { urlKey as keyOf } from './urls';

/** The payload the API publishes for every accepted URL (JSON in the message data). */
export interface UrlMessage {
  url: string;
  canonicalUrl: string;
  urlKey: string;
  portfolioId: string;
}

/** One push delivery, decoded. */
export interface Delivery {
  message: UrlMessage;
  messageId: string;
  /** When the message was published; null if the envelope doesn't say. */
  publishTime: Date | null;
  /**
   * Which delivery this is, when Pub/Sub says. The real service sends it on subscriptions with a
   * dead-letter policy; the gcloud emulator omits it, so the stored count is the fallback.
   */
  deliveryAttempt: number | null;
  attributes: Record<string, string>;
}

/** A push envelope that could not be decoded. */
export class MalformedMessageError extends Error {
  readonly code = 'malformed-message';

  constructor(
    message: string,
    /** The envelope's messageId when it has one: what an operator looks the message up by. */
    readonly messageId?: string,
  ) {
    super(message);
  }
}

function record(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/**
 * The largest delivery count a real push can carry: Pub/Sub's max_delivery_attempts is at most 100.
 * Counts from an envelope or a dead letter's attributes are clamped to 1..this, so a forged or corrupt
 * value (1e308, 999,999,999) can never be stored.
 */
export const MAX_DELIVERY_COUNT = 100;

/** A delivery count as a sane integer (1..MAX_DELIVERY_COUNT), or null when the value is not a positive integer. */
export function clampDeliveryCount(value: unknown): number | null {
  const count = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) return null;
  return Math.min(count, MAX_DELIVERY_COUNT);
}

function parseTime(value: unknown): Date | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const time = new Date(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);
  return Number.isNaN(time.getTime()) ? null : time;
}

/**
 * Decodes a Pub/Sub push body (`{"message": {"data", "attributes", "messageId", "publishTime"},
 * "subscription", "deliveryAttempt"?}`) into a delivery. Throws {@link MalformedMessageError}
 * saying what is wrong. Accepts the snake_case twins (`message_id`, `publish_time`) the emulator sends.
 */
export function decodePushEnvelope(body: unknown): Delivery {
  let envelope = body;
  if (Buffer.isBuffer(envelope)) envelope = envelope.toString('utf8');
  if (typeof envelope === 'string') {
    try {
      envelope = JSON.parse(envelope);
    } catch {
      throw new MalformedMessageError('The push body is not JSON.');
    }
  }
  const message = record(record(envelope)?.message);
  if (message === null) throw new MalformedMessageError('The push body has no "message" object.');
  const messageId = message.messageId ?? message.message_id;
  if (typeof messageId !== 'string' || messageId === '') throw new MalformedMessageError('The message has no messageId.');
  if (typeof message.data !== 'string') throw new MalformedMessageError('The message has no data.', messageId);
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(message.data, 'base64').toString('utf8'));
  } catch {
    throw new MalformedMessageError('The message data is not base64-encoded JSON.', messageId);
  }
  const data = record(payload);
  const fields = ['url', 'canonicalUrl', 'urlKey', 'portfolioId'] as const;
  for (const field of fields) {
    if (typeof data?.[field] !== 'string' || data[field] === '') throw new MalformedMessageError(`The message data has no "${field}" string.`, messageId);
  }
  const urlMessage = data as unknown as UrlMessage;
  if (keyOf(urlMessage.canonicalUrl) !== urlMessage.urlKey) throw new MalformedMessageError('The message urlKey does not match its canonicalUrl.', messageId);
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(record(message.attributes) ?? {})) {
    if (typeof value === 'string') attributes[name] = value;
  }
  const attempt = record(envelope)?.deliveryAttempt;
  return {
    message: { url: urlMessage.url, canonicalUrl: urlMessage.canonicalUrl, urlKey: urlMessage.urlKey, portfolioId: urlMessage.portfolioId },
    messageId,
    publishTime: parseTime(message.publishTime ?? message.publish_time),
    deliveryAttempt: typeof attempt === 'number' ? clampDeliveryCount(attempt) : null,
    attributes,
  };
}

/** What happened to one delivery. The handler maps it to an HTTP status for Pub/Sub. */
export type ScrapeOutcome =
  | { kind: 'done'; delivery: Delivery; attempts: number; finalUrl: string; title: string | null }
  | { kind: 'failed'; delivery: Delivery; attempts: number; code: string; message: string }
  | { kind: 'retry'; delivery: Delivery; attempts: number | null; code: string; message: string; httpStatus: 429 | 503 }
  | { kind: 'skipped'; delivery: Delivery; reason: 'fresh' | 'already-resolved' | 'kept-done' }
  | Malformed;

/** A delivery that could not be decoded; acked, since no redelivery can fix it. */
export interface Malformed {
  kind: 'malformed';
  code: 'malformed-message';
  message: string;
  messageId?: string;
}

function malformed(error: unknown): Malformed {
  const messageId = error instanceof MalformedMessageError ? error.messageId : undefined;
  return { kind: 'malformed', code: 'malformed-message', message: describe(error), ...(messageId === undefined ? {} : { messageId }) };
}

/** Dependencies of {@link scrape}. */
export interface ScrapeDeps {
  fetchPage: (url: string, options?: Partial<Config['fetch']>) => Promise<FetchedPage>;
  /** Synchronous in unit tests; the functions extract in a worker pool (isolation/extractPool.ts). */
  extract: (html: string, pageUrl: string) => Article | Promise<Article>;
  store: ArticleStore;
  now: () => Date;
  config: Pick<Config, 'freshnessWindowMs' | 'fetch'>;
}

type BeginDecision = { action: 'skip'; reason: 'fresh' | 'already-resolved' } | { action: 'fetch' };

function isTerminal(article: ArticleRecord): boolean {
  return article.status === 'done' || article.status === 'failed';
}

/** True when the article reached `done` or `failed` after this delivery's message was published. */
function resolvedSince(article: ArticleRecord | null, delivery: Delivery): boolean {
  return (
    article !== null &&
    isTerminal(article) &&
    article.terminalAt !== null &&
    delivery.publishTime !== null &&
    article.terminalAt.getTime() >= delivery.publishTime.getTime()
  );
}

/** Decides from the stored article whether a delivery needs a fetch at all. */
export function beginDelivery(current: ArticleRecord | null, delivery: Delivery, now: Date, freshnessWindowMs: number): BeginDecision {
  if (current?.status === 'done' && current.scrapedAt !== null && now.getTime() - current.scrapedAt.getTime() < freshnessWindowMs) {
    return { action: 'skip', reason: 'fresh' };
  }
  if (resolvedSince(current, delivery)) return { action: 'skip', reason: 'already-resolved' };
  return { action: 'fetch' };
}

/**
 * The article with this delivery counted: the larger of the stored count + 1 and Pub/Sub's
 * deliveryAttempt. A terminal article asked for again (re-submitted after a failure, or stale)
 * starts a new round, counted from zero; a `done` one stays `done` meanwhile (its data is still
 * the best we have).
 */
export function countDelivery(current: ArticleRecord | null, delivery: Delivery, now: Date): ArticleRecord {
  const base = current ?? queuedArticle(delivery.message, now);
  const newRound = isTerminal(base);
  const attempts = Math.max((newRound ? 0 : base.attempts) + 1, delivery.deliveryAttempt ?? 0);
  return { ...base, status: base.status === 'done' ? 'done' : 'queued', attempts, updatedAt: now, ...(newRound ? { lastError: null } : {}) };
}

/** The record of a successful scrape. A newer scrape replaces an older one, whatever the status. */
export function completeDone(counted: ArticleRecord, page: FetchedPage, article: Article, now: Date): ArticleRecord {
  return {
    ...counted,
    ...fieldsFromArticle(article),
    status: 'done',
    finalUrl: page.finalUrl,
    lastError: null,
    scrapedAt: now,
    terminalAt: now,
    updatedAt: now,
  };
}

/**
 * Records a permanent failure — unless the article is `done` (a success is never undone) or another
 * delivery resolved it after this message was published.
 */
export function completeFailed(
  current: ArticleRecord | null,
  delivery: Delivery,
  error: { code: string; message: string },
  now: Date,
): ArticleChange<{ attempts: number; kept: 'kept-done' | 'already-resolved' | null }> {
  if (current?.status === 'done') return { next: null, result: { attempts: current.attempts, kept: 'kept-done' } };
  if (resolvedSince(current, delivery)) return { next: null, result: { attempts: current?.attempts ?? 0, kept: 'already-resolved' } };
  const counted = countDelivery(current, delivery, now);
  const next: ArticleRecord = { ...counted, status: 'failed', lastError: { code: error.code, message: error.message, at: now }, terminalAt: now, updatedAt: now };
  return { next, result: { attempts: next.attempts, kept: null } };
}

/** Counts a delivery that will be retried and records its error, unless the article is resolved. */
export function recordRetry(current: ArticleRecord | null, delivery: Delivery, error: { code: string; message: string }, now: Date): ArticleChange<number | null> {
  if (current?.status === 'done' || resolvedSince(current, delivery)) return { next: null, result: current?.attempts ?? null };
  const counted = countDelivery(current, delivery, now);
  return { next: { ...counted, lastError: { code: error.code, message: error.message, at: now } }, result: counted.attempts };
}

/** A failure worth a retry: the site or our storage may answer later. */
class TransientFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: 429 | 503 = 503,
  ) {
    super(message);
  }
}

/** A failure no retry can fix. */
class PermanentFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function classifyError(error: unknown): { permanent: false; failure: TransientFailure } | { permanent: true; code: string; message: string } {
  if (error instanceof FetchError) {
    if (!error.retryable) return { permanent: true, code: error.code, message: error.message };
    // 429 for "too many at once": the site said so, or our own per-host queue for it is full
    // (host-busy). Either way the message should come back later, not at once.
    const throttled = error.code === 'http-429' || error.code === 'host-busy';
    return { permanent: false, failure: new TransientFailure(error.code, error.message, throttled ? 429 : 503) };
  }
  if (error instanceof TransientFailure) return { permanent: false, failure: error };
  if (error instanceof PermanentFailure) return { permanent: true, code: error.code, message: error.message };
  if (isTransientStorageError(error)) {
    return { permanent: false, failure: new TransientFailure('storage-unavailable', `Firestore is unavailable (${describe(error)}); the delivery will be retried.`) };
  }
  // An error we don't know: retrying is bounded by the dead-letter policy, dropping is not reversible.
  return { permanent: false, failure: new TransientFailure('internal-error', `Unexpected error: ${describe(error)}`) };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Handles one push delivery of the URL subscription: decode, decide, fetch, extract, record.
 * Never throws; every path ends in an outcome.
 */
export async function scrape(body: unknown, deps: ScrapeDeps): Promise<ScrapeOutcome> {
  let delivery: Delivery;
  try {
    delivery = decodePushEnvelope(body);
  } catch (error) {
    return malformed(error);
  }
  const { store, now } = deps;
  const key = delivery.message.urlKey;
  try {
    // A plain read decides; only the failure paths need a transaction. A success may be written
    // blindly: nothing but `done` can replace `done`, and a newer scrape may replace an older one.
    const current = await store.getArticle(key);
    const decision = beginDelivery(current, delivery, now(), deps.config.freshnessWindowMs);
    if (decision.action === 'skip') return { kind: 'skipped', delivery, reason: decision.reason };

    let page: FetchedPage;
    let article: Article;
    try {
      page = await deps.fetchPage(delivery.message.canonicalUrl, deps.config.fetch);
      try {
        article = await deps.extract(page.html, page.finalUrl);
      } catch (error) {
        if (error instanceof PageTooComplex) {
          throw new PermanentFailure(
            'page-too-complex',
            `${page.finalUrl} was not read: ${error.message}. Such pages are refused so that one page cannot stall the other articles being scraped; retrying will not help.`,
          );
        }
        // extractArticle promises to throw nothing else; if it does, a retry would throw again.
        throw new PermanentFailure('extract-failed', `The page could not be read as an article: ${describe(error)}`);
      }
      if (article.title === null && article.wordCount === 0) {
        throw new PermanentFailure(
          'empty-page',
          `${page.finalUrl} has no text to read: no title and no words (a page built by JavaScript in the browser looks like this; the scraper does not run scripts).`,
        );
      }
    } catch (error) {
      const classified = classifyError(error);
      if (!classified.permanent) throw classified.failure;
      const failed = await store.updateArticle(key, (latest) => completeFailed(latest, delivery, classified, now()));
      if (failed.kept !== null) return { kind: 'skipped', delivery, reason: failed.kept };
      return { kind: 'failed', delivery, attempts: failed.attempts, code: classified.code, message: classified.message };
    }
    const done = completeDone(countDelivery(current, delivery, now()), page, article, now());
    await store.putArticle(key, done);
    return { kind: 'done', delivery, attempts: done.attempts, finalUrl: page.finalUrl, title: article.title };
  } catch (error) {
    const classified = classifyError(error);
    const failure = classified.permanent ? new TransientFailure(classified.code, classified.message) : classified.failure;
    let attempts: number | null = null;
    try {
      attempts = await store.updateArticle(key, (latest) => recordRetry(latest, delivery, failure, now()));
    } catch {
      // Storage is what failed, most likely; Pub/Sub's deliveryAttempt still counts this delivery.
    }
    return { kind: 'retry', delivery, attempts, code: failure.code, message: failure.message, httpStatus: failure.httpStatus };
  }
}

/** What the dead-letter recorder did. */
export type DeadLetterOutcome =
  | { kind: 'failed'; delivery: Delivery; attempts: number; lastError: ErrorRecord }
  | { kind: 'skipped'; delivery: Delivery; reason: 'kept-done' | 'already-resolved' | 'newer-round' }
  | { kind: 'retry'; delivery: Delivery; code: string; message: string }
  | Malformed;

/** Attributes Pub/Sub adds to a dead-lettered message. */
export const deadLetterAttributes = {
  deliveryCount: 'CloudPubSubDeadLetterSourceDeliveryCount',
  sourcePublishTime: 'CloudPubSubDeadLetterSourceTopicPublishTime',
} as const;

/**
 * Marks a dead-lettered article `failed` with code `dead-lettered`, keeping the last error seen as
 * its cause. Never overwrites `done`; and never ends a round other than the dead-lettered message's:
 * if the article was resolved after that message was published, its round is over, and an article
 * `queued` again since then is in a newer round (re-submitted) that this dead letter must not end.
 */
export function deadLetterChange(current: ArticleRecord | null, delivery: Delivery, now: Date): ArticleChange<DeadLetterOutcome> {
  if (current?.status === 'done') return { next: null, result: { kind: 'skipped', delivery, reason: 'kept-done' } };
  const sourcePublished = parseTime(delivery.attributes[deadLetterAttributes.sourcePublishTime]);
  if (current && current.terminalAt !== null && sourcePublished !== null && current.terminalAt.getTime() >= sourcePublished.getTime()) {
    return { next: null, result: { kind: 'skipped', delivery, reason: current.status === 'failed' ? 'already-resolved' : 'newer-round' } };
  }
  const base = current ?? queuedArticle(delivery.message, now);
  const attempts = clampDeliveryCount(delivery.attributes[deadLetterAttributes.deliveryCount]) ?? base.attempts;
  const cause = base.lastError === null ? null : { code: base.lastError.code, message: base.lastError.message, at: base.lastError.at };
  const lastError: ErrorRecord = {
    code: 'dead-lettered',
    message:
      cause === null
        ? `Gave up after ${attempts} delivery attempts; no error was recorded (the scraper may have timed out).`
        : `Gave up after ${attempts} delivery attempts; the last error was ${cause.code}: ${cause.message}`,
    at: now,
    cause,
  };
  const next: ArticleRecord = { ...base, status: 'failed', attempts, lastError, terminalAt: now, updatedAt: now };
  return { next, result: { kind: 'failed', delivery, attempts, lastError } };
}

/** Handles one push delivery of the dead-letter subscription. Never throws. */
export async function recordDeadLetter(body: unknown, deps: Pick<ScrapeDeps, 'store' | 'now'>): Promise<DeadLetterOutcome> {
  let delivery: Delivery;
  try {
    delivery = decodePushEnvelope(body);
  } catch (error) {
    return malformed(error);
  }
  try {
    return await deps.store.updateArticle(delivery.message.urlKey, (current) => deadLetterChange(current, delivery, deps.now()));
  } catch (error) {
    const classified = classifyError(error);
    const failure = classified.permanent ? { code: classified.code, message: classified.message } : classified.failure;
    return { kind: 'retry', delivery, code: failure.code, message: failure.message };
  }
}
