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
 *
 * Retries respect the world (README, "Delivery semantics"):
 * - one fetch per URL at a time: fetch number N of an article is made only by the delivery holding
 *   its lease (store.claimFetch); another message meanwhile is satisfied by it, a duplicate delivery
 *   of the same message waits for its outcome. `attempts` counts fetches, and a round ends `failed`
 *   after `maxDeliveryAttempts` of them;
 * - a wait the site asks for (Retry-After on 429/503, a host backing off after 429s) is not a nack:
 *   the message is parked on the delay topic until then and this delivery is acked;
 * - a message whose deliveries were used up by our own outage (no fetches of its own) is re-queued by
 *   the dead-letter recorder, with a delay, a bounded number of times.
 */
import type { Config } from './config';
import type { Article } from './extract/types';
import { FetchError, type FetchedPage } from './fetch/types';
import { PageTooComplex } from './isolation/parseBudget';
import { cappedRetryAfter, requeueDelayMs, type HostBackoff } from './retry';
import {
  fieldsFromArticle,
  isTransientStorageError,
  queuedArticle,
  type ArticleChange,
  type ArticleRecord,
  type ArticleStore,
  type ErrorRecord,
} from './store';
import { messageAttributes } from './topology';
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
  /**
   * When the URL was submitted: the publish time of the message the API published (carried in the
   * `submittedAt` attribute through parks and re-queues); null if the envelope doesn't say.
   */
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
    publishTime: parseTime(attributes[messageAttributes.submittedAt]) ?? parseTime(message.publishTime ?? message.publish_time),
    deliveryAttempt: typeof attempt === 'number' ? clampDeliveryCount(attempt) : null,
    attributes,
  };
}

/** What happened to one delivery. The handler maps it to an HTTP status for Pub/Sub. */
export type ScrapeOutcome =
  | { kind: 'done'; delivery: Delivery; attempts: number; finalUrl: string; title: string | null }
  | { kind: 'failed'; delivery: Delivery; attempts: number; code: string; message: string }
  | { kind: 'retry'; delivery: Delivery; attempts: number | null; code: string; message: string; httpStatus: 429 | 503 }
  /** Parked on the delay topic until `until` (acked: the parked message carries the URL on). */
  | { kind: 'waiting'; delivery: Delivery; attempts: number; until: Date; waitingFor: string; code: string | null }
  | { kind: 'skipped'; delivery: Delivery; reason: 'fresh' | 'already-resolved' | 'kept-done' | 'shared' | 'waiting' }
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

/** Publishing a URL message again: to the delay topic (to wait) or to the article topic (to be scraped). */
export interface Requeue {
  delay(message: UrlMessage, attributes: Record<string, string>): Promise<void>;
  again(message: UrlMessage, attributes: Record<string, string>): Promise<void>;
}

/** Dependencies of {@link scrape}. */
export interface ScrapeDeps {
  fetchPage: (url: string, options?: Partial<Config['fetch']>) => Promise<FetchedPage>;
  /** Synchronous in unit tests; the functions extract in a worker pool (isolation/extractPool.ts). */
  extract: (html: string, pageUrl: string) => Article | Promise<Article>;
  store: ArticleStore;
  now: () => Date;
  config: Pick<Config, 'freshnessWindowMs' | 'fetch' | 'retry'>;
  requeue: Requeue;
  /** This instance's per-host circuit breaker. */
  hosts: HostBackoff;
  /** Waits between looks at an article a duplicate delivery is fetching (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
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
 * The article with fetch number `fetchNumber` counted. A terminal article asked for again (re-submitted
 * after a failure, or stale) starts a new round, counted from zero; a `done` one stays `done` meanwhile
 * (its data is still the best we have). Fetch numbers skipped since the stored count (a delivery that
 * took one and died) count too: the site may have seen them. `sent: false` (our own per-host queue was
 * full: nothing reached the site) takes the number without counting an attempt.
 */
export function countFetch(current: ArticleRecord | null, delivery: Delivery, fetchNumber: number, now: Date, sent = true): ArticleRecord {
  const base = current ?? queuedArticle(delivery.message, now);
  const newRound = isTerminal(base);
  const taken = Math.max(0, fetchNumber - base.fetches);
  const counted = sent ? Math.max(1, taken) : Math.max(0, taken - 1);
  const attempts = (newRound ? 0 : base.attempts) + counted;
  return {
    ...base,
    status: base.status === 'done' ? 'done' : 'queued',
    attempts,
    fetches: Math.max(base.fetches, fetchNumber),
    nextAttemptAt: null,
    waitingFor: null,
    updatedAt: now,
    ...(newRound ? { lastError: null } : {}),
  };
}

/** The record of a successful scrape. A newer scrape replaces an older one, whatever the status. */
export function completeDone(counted: ArticleRecord, page: FetchedPage, article: Article, now: Date): ArticleRecord {
  return {
    ...counted,
    ...fieldsFromArticle(article),
    status: 'done',
    finalUrl: page.finalUrl,
    lastError: null,
    nextAttemptAt: null,
    waitingFor: null,
    scrapedAt: now,
    terminalAt: now,
    updatedAt: now,
  };
}

/**
 * Records a permanent failure — unless the article is `done` (a success is never undone) or another
 * delivery resolved it after this message was published. `fetchNumber` counts this delivery's fetch;
 * null when it made none.
 */
export function completeFailed(
  current: ArticleRecord | null,
  delivery: Delivery,
  error: { code: string; message: string; cause?: ErrorRecord['cause'] },
  now: Date,
  fetchNumber: number | null = null,
): ArticleChange<{ attempts: number; kept: 'kept-done' | 'already-resolved' | null }> {
  if (current?.status === 'done') return { next: null, result: { attempts: current.attempts, kept: 'kept-done' } };
  if (resolvedSince(current, delivery)) return { next: null, result: { attempts: current?.attempts ?? 0, kept: 'already-resolved' } };
  const counted = fetchNumber === null ? { ...(current ?? queuedArticle(delivery.message, now)), nextAttemptAt: null, waitingFor: null } : countFetch(current, delivery, fetchNumber, now);
  const lastError: ErrorRecord = { code: error.code, message: error.message, at: now, ...(error.cause === undefined ? {} : { cause: error.cause }) };
  const next: ArticleRecord = { ...counted, status: 'failed', lastError, terminalAt: now, updatedAt: now };
  return { next, result: { attempts: next.attempts, kept: null } };
}

/**
 * Counts a fetch that will be retried and records its error (and, when the message waits on the delay
 * topic, until when and for what), unless the article is resolved.
 */
export function recordRetry(
  current: ArticleRecord | null,
  delivery: Delivery,
  error: { code: string; message: string },
  now: Date,
  fetchNumber: number,
  options: { sent?: boolean; wait?: { until: Date; waitingFor: string } } = {},
): ArticleChange<number | null> {
  if (current?.status === 'done' || resolvedSince(current, delivery)) return { next: null, result: current?.attempts ?? null };
  const counted = countFetch(current, delivery, fetchNumber, now, options.sent ?? true);
  return {
    next: { ...counted, lastError: { code: error.code, message: error.message, at: now }, nextAttemptAt: options.wait?.until ?? null, waitingFor: options.wait?.waitingFor ?? null },
    result: counted.attempts,
  };
}

/**
 * Notes on a queued article that it waits (nothing else changes), for the status view: one shared
 * commit for many parked deliveries, no transaction (store.noteWait), since the parked message, not
 * the note, carries the URL on. Nothing is noted on an article resolved as read.
 */
async function noteWaiting(store: ArticleStore, current: ArticleRecord | null, delivery: Delivery, wait: { until: Date; waitingFor: string }, now: Date): Promise<void> {
  if (current !== null && (isTerminal(current) || resolvedSince(current, delivery))) return;
  await store.noteWait(delivery.message.urlKey, { ...wait, at: now }, current === null ? queuedArticle(delivery.message, now) : null);
}

/** The message of an article whose fetches were used up: the last error is the cause. */
function exhausted(attempts: number, cause: { code: string; message: string; at: Date } | null): { code: string; message: string; cause: ErrorRecord['cause'] } {
  return {
    code: 'dead-lettered',
    message:
      cause === null
        ? `Gave up after ${attempts} fetches; no error was recorded.`
        : `Gave up after ${attempts} fetches; the last error was ${cause.code}: ${cause.message}`,
    cause,
  };
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

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The attributes a message keeps when it is published again: its own, minus what Pub/Sub and the delay topic added. */
export function carriedAttributes(delivery: Delivery): Record<string, string> {
  const carried: Record<string, string> = {};
  for (const [name, value] of Object.entries(delivery.attributes)) {
    if (name.startsWith('CloudPubSub') || name === messageAttributes.notBefore || name === messageAttributes.waitingFor) continue;
    carried[name] = value;
  }
  if (delivery.publishTime !== null) carried[messageAttributes.submittedAt] = delivery.publishTime.toISOString();
  return carried;
}

/**
 * The name fetch leases are held in: the submission (the portfolio that asked for the URL), not the
 * messageId. A dead letter and a parked or re-queued message are new messages with new ids, yet they
 * carry the same submission on, and must not mistake their own earlier lease for another's.
 */
export function carrierOf(delivery: Delivery): string {
  return delivery.message.portfolioId;
}

/** Parks the message on the delay topic until `until`. */
async function park(deps: Pick<ScrapeDeps, 'requeue'>, delivery: Delivery, wait: { until: Date; waitingFor: string }, extra: Record<string, string> = {}): Promise<void> {
  await deps.requeue.delay(delivery.message, {
    ...carriedAttributes(delivery),
    ...extra,
    [messageAttributes.notBefore]: wait.until.toISOString(),
    [messageAttributes.waitingFor]: wait.waitingFor,
  });
}

/**
 * True when a parked message other than this delivery will carry the article on: it waits, and this
 * delivery is not the message that came back from that very wait (a message back from waiting carries
 * its `notBefore`; comparing with it, not with the clock, stays right when clocks differ).
 */
function parkedElsewhere(current: ArticleRecord | null, delivery: Delivery, now: Date): boolean {
  if (current === null || current.nextAttemptAt === null || isTerminal(current)) return false;
  const own = parseTime(delivery.attributes[messageAttributes.notBefore]);
  if (own !== null) return current.nextAttemptAt.getTime() > own.getTime();
  return current.nextAttemptAt.getTime() > now.getTime();
}

/**
 * Parks a first delivery to a host known closed without reading its article first. In the scraper
 * subscription's queue a rate-limiting host's URLs sit among everyone else's, and the read (a
 * Firestore round trip) was most of what each of them cost. Parking unread is safe: the parked
 * message comes back after the wait and is then read and decided as any other (a fresh or resolved
 * article is skipped then, and copies of one URL parked by several portfolios collapse into one
 * fetch through the lease). Only the wait note needs the article, and mostly finds none: the API
 * writes no article, so the note creates it; only when one exists is it read and noted as usual.
 * The park comes first: the note alone would make a redelivery skip the article as waiting.
 */
async function parkUnread(deps: ScrapeDeps, delivery: Delivery, wait: { until: Date; waitingFor: string }): Promise<ScrapeOutcome> {
  const { store, now } = deps;
  await park(deps, delivery, wait);
  let attempts = 0;
  // Best effort from here: the parked message carries the URL on, so no failure may nack it.
  try {
    const created = await store.noteWait(delivery.message.urlKey, { ...wait, at: now() }, queuedArticle(delivery.message, now()));
    if (!created) {
      const current = await store.getArticle(delivery.message.urlKey);
      attempts = current?.attempts ?? 0;
      await noteWaiting(store, current, delivery, wait, now());
    }
  } catch {
    // Storage is out of reach; the status view shows the article queued without its wait.
  }
  return { kind: 'waiting', delivery, attempts, until: wait.until, waitingFor: wait.waitingFor, code: null };
}

const POLL_MS = 250;
/** Longest a duplicate delivery waits for the fetch another delivery of its message is making. */
const DUPLICATE_WAIT_MS = 10_000;

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
  const { retry } = deps.config;
  const key = delivery.message.urlKey;
  const host = hostOf(delivery.message.canonicalUrl);
  let fetchNumber: number | null = null;
  try {
    // The API's own message (a parked or re-queued one carries submittedAt) to a host this instance
    // knows is closed parks before anything is read.
    const closedUntil = delivery.attributes[messageAttributes.submittedAt] === undefined ? deps.hosts.blockedUntil(host, now().getTime()) : null;
    if (closedUntil !== null) return await parkUnread(deps, delivery, { until: new Date(closedUntil), waitingFor: host });

    // A plain read decides; only the failure paths need a transaction. A success may be written
    // blindly: nothing but `done` can replace `done`, and a newer scrape may replace an older one.
    const current = await store.getArticle(key);
    const decision = beginDelivery(current, delivery, now(), deps.config.freshnessWindowMs);
    if (decision.action === 'skip') return { kind: 'skipped', delivery, reason: decision.reason };
    const newRound = current !== null && isTerminal(current);

    // Waiting: another parked message carries the article, or its host is closed in this instance.
    if (!newRound && parkedElsewhere(current, delivery, now())) return { kind: 'skipped', delivery, reason: 'waiting' };
    const hostUntil = deps.hosts.blockedUntil(host, now().getTime());
    if (hostUntil !== null) {
      const wait = { until: new Date(hostUntil), waitingFor: host };
      await park(deps, delivery, wait);
      await noteWaiting(store, current, delivery, wait, now());
      return { kind: 'waiting', delivery, attempts: current?.attempts ?? 0, until: wait.until, waitingFor: host, code: null };
    }

    // This round's fetches are used up (a re-queued message arriving after them): fail, no fetch.
    if (!newRound && current !== null && current.attempts >= retry.maxDeliveryAttempts) {
      const failed = await store.updateArticle(key, (latest) => completeFailed(latest, delivery, exhausted(latest?.attempts ?? 0, latest?.lastError ?? null), now()));
      if (failed.kept !== null) return { kind: 'skipped', delivery, reason: failed.kept };
      return { kind: 'failed', delivery, attempts: failed.attempts, code: 'dead-lettered', message: 'fetches used up' };
    }

    // One fetch at a time: take the lease of the next fetch number.
    const claimed = await claimNextFetch(deps, delivery, current);
    if (claimed.kind !== 'claimed') return claimed.outcome;
    fetchNumber = claimed.fetchNumber;
    const number = fetchNumber;

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
      if (classified.permanent) {
        const failed = await store.updateArticle(key, (latest) => completeFailed(latest, delivery, classified, now(), number));
        if (failed.kept !== null) return { kind: 'skipped', delivery, reason: failed.kept };
        return { kind: 'failed', delivery, attempts: failed.attempts, code: classified.code, message: classified.message };
      }
      return await afterTransientFetch(deps, delivery, current, error, classified.failure, number);
    }
    deps.hosts.succeeded(host);
    const done = completeDone(countFetch(current, delivery, number, now()), page, article, now());
    await store.putArticle(key, done);
    return { kind: 'done', delivery, attempts: done.attempts, finalUrl: page.finalUrl, title: article.title };
  } catch (error) {
    const classified = classifyError(error);
    const failure = classified.permanent ? new TransientFailure(classified.code, classified.message) : classified.failure;
    let attempts: number | null = null;
    if (fetchNumber !== null) {
      const number = fetchNumber;
      try {
        attempts = await store.updateArticle(key, (latest) => recordRetry(latest, delivery, failure, now(), number));
      } catch {
        // Storage is what failed, most likely; the lease of this fetch expires by itself.
      }
    }
    return { kind: 'retry', delivery, attempts, code: failure.code, message: failure.message, httpStatus: failure.httpStatus };
  }
}

type Claim = { kind: 'claimed'; fetchNumber: number } | { kind: 'not-claimed'; outcome: ScrapeOutcome };

/**
 * Takes the lease of the article's next fetch number. Numbers whose lease expired (a delivery that
 * took one and died) are skipped. When a live lease is held by another message, that message's fetch
 * serves this one too (it carries the article to an end, or parks or retries it), so this delivery is
 * acked; when it is held by another delivery of this same submission, this one waits for its outcome.
 */
async function claimNextFetch(deps: ScrapeDeps, delivery: Delivery, current: ArticleRecord | null): Promise<Claim> {
  const { store, now } = deps;
  let fetchNumber = (current?.fetches ?? 0) + 1;
  for (let tries = 0; tries < 20; tries++, fetchNumber++) {
    const claim = await store.claimFetch(delivery.message.urlKey, fetchNumber, { messageId: carrierOf(delivery), until: new Date(now().getTime() + deps.config.retry.fetchLeaseMs) });
    if (claim.claimed) return { kind: 'claimed', fetchNumber };
    if (claim.holder.until.getTime() <= now().getTime()) continue;
    if (claim.holder.messageId !== carrierOf(delivery)) return { kind: 'not-claimed', outcome: { kind: 'skipped', delivery, reason: 'shared' } };
    return { kind: 'not-claimed', outcome: await awaitOtherDelivery(deps, delivery, fetchNumber, claim.holder.until) };
  }
  throw new TransientFailure('lease-unavailable', 'Could not take a fetch lease for this article; the delivery will be retried.');
}

/** A duplicate delivery: waits (bounded) for the other delivery's fetch to be recorded, then answers as it would. */
async function awaitOtherDelivery(deps: ScrapeDeps, delivery: Delivery, fetchNumber: number, leaseUntil: Date): Promise<ScrapeOutcome> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const giveUpAt = Math.min(leaseUntil.getTime(), deps.now().getTime() + DUPLICATE_WAIT_MS);
  for (;;) {
    const latest = await deps.store.getArticle(delivery.message.urlKey);
    if (resolvedSince(latest, delivery)) return { kind: 'skipped', delivery, reason: 'already-resolved' };
    if (latest !== null && latest.fetches >= fetchNumber) {
      if (parkedElsewhere(latest, delivery, deps.now())) return { kind: 'skipped', delivery, reason: 'waiting' };
      break;
    }
    if (deps.now().getTime() >= giveUpAt) break;
    await sleep(POLL_MS);
  }
  // The other delivery asked for a retry, or has not finished: so does this one (a nack, not an ack,
  // since acking any delivery of a message acks the message).
  return { kind: 'retry', delivery, attempts: null, code: 'fetch-in-progress', message: 'Another delivery of this message is fetching the page; this one will be retried.', httpStatus: 503 };
}

/**
 * After a fetch that may succeed later: fail the round when its fetches are used up; park the message
 * when the site named a wait (Retry-After) or its host is backing off (429); else ask Pub/Sub to retry.
 */
async function afterTransientFetch(
  deps: ScrapeDeps,
  delivery: Delivery,
  current: ArticleRecord | null,
  error: unknown,
  failure: TransientFailure,
  fetchNumber: number,
): Promise<ScrapeOutcome> {
  const { store, now } = deps;
  const { retry } = deps.config;
  const key = delivery.message.urlKey;
  const host = hostOf(delivery.message.canonicalUrl);
  // Our own per-host queue was full: nothing reached the site, so no attempt is spent.
  const sent = failure.code !== 'host-busy';
  const retryAfter = error instanceof FetchError ? cappedRetryAfter(error.retryAfterMs, retry.retryAfterMaxMs) : null;
  let wait: { until: Date; waitingFor: string } | null = null;
  if (failure.code === 'http-429') wait = { until: new Date(deps.hosts.rateLimited(host, retryAfter, now().getTime())), waitingFor: host };
  else if (retryAfter !== null && failure.code === 'http-503') {
    // The page's wait; from the third such answer in a row its host's, for every page of it.
    const hostUntil = deps.hosts.unavailable(host, retryAfter, now().getTime());
    wait = hostUntil === null ? { until: new Date(now().getTime() + retryAfter), waitingFor: 'page' } : { until: new Date(hostUntil), waitingFor: host };
  }

  // The lease keeps other fetches of this article away, so the count read before the fetch holds.
  const counted = countFetch(current, delivery, fetchNumber, now(), sent);
  if (counted.attempts >= retry.maxDeliveryAttempts) {
    const cause = { code: failure.code, message: failure.message, at: now() };
    const failed = await store.updateArticle(key, (latest) => completeFailed(latest, delivery, exhausted(countFetch(latest, delivery, fetchNumber, now(), sent).attempts, cause), now(), fetchNumber));
    if (failed.kept !== null) return { kind: 'skipped', delivery, reason: failed.kept };
    return { kind: 'failed', delivery, attempts: failed.attempts, code: 'dead-lettered', message: failure.message };
  }
  if (wait !== null) {
    const parked = wait;
    let published = true;
    try {
      await park(deps, delivery, parked);
    } catch {
      // The delay topic is out of reach: fall back to Pub/Sub's own retry.
      published = false;
    }
    if (published) {
      // The parked message carries the URL on even if this write fails.
      const attempts = await store.updateArticle(key, (latest) => recordRetry(latest, delivery, failure, now(), fetchNumber, { sent, wait: parked })).catch(() => null);
      return { kind: 'waiting', delivery, attempts: attempts ?? counted.attempts, until: parked.until, waitingFor: parked.waitingFor, code: failure.code };
    }
  }
  const attempts = await store.updateArticle(key, (latest) => recordRetry(latest, delivery, failure, now(), fetchNumber, { sent }));
  return { kind: 'retry', delivery, attempts, code: failure.code, message: failure.message, httpStatus: failure.httpStatus };
}

/** What the dead-letter recorder did. */
export type DeadLetterOutcome =
  | { kind: 'failed'; delivery: Delivery; attempts: number; lastError: ErrorRecord }
  | { kind: 'skipped'; delivery: Delivery; reason: 'kept-done' | 'already-resolved' | 'newer-round' }
  /** Published again: to the delay topic (a dead letter our outage caused) or to the article topic (a wait is over). */
  | { kind: 'requeued'; delivery: Delivery; to: 'delay' | 'topic'; notBefore: Date | null; requeues: number }
  /** A delayed message offered before its time: answered "not yet", so Pub/Sub offers it again after its backoff. */
  | { kind: 'not-yet'; delivery: Delivery; notBefore: Date }
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
export function deadLetterChange(current: ArticleRecord | null, delivery: Delivery, now: Date, why?: string): ArticleChange<DeadLetterOutcome> {
  if (current?.status === 'done') return { next: null, result: { kind: 'skipped', delivery, reason: 'kept-done' } };
  // An article resolved since the source message was published ended that round, and one queued
  // again since is in a newer round this dead letter must not end.
  const sourcePublished = parseTime(delivery.attributes[deadLetterAttributes.sourcePublishTime]) ?? delivery.publishTime;
  if (current && current.terminalAt !== null && sourcePublished !== null && current.terminalAt.getTime() >= sourcePublished.getTime()) {
    return { next: null, result: { kind: 'skipped', delivery, reason: current.status === 'failed' ? 'already-resolved' : 'newer-round' } };
  }
  const base = current ?? queuedArticle(delivery.message, now);
  // attempts counts real fetches (the lease numbers them); Pub/Sub's delivery count is not ours to store.
  const attempts = base.attempts;
  const cause = base.lastError === null ? null : { code: base.lastError.code, message: base.lastError.message, at: base.lastError.at };
  const lastError: ErrorRecord = { ...exhausted(attempts, cause), at: now };
  if (why !== undefined) lastError.message = why;
  const next: ArticleRecord = { ...base, status: 'failed', attempts, lastError, nextAttemptAt: null, waitingFor: null, terminalAt: now, updatedAt: now };
  return { next, result: { kind: 'failed', delivery, attempts, lastError } };
}

/** Dependencies of {@link recordDeadLetter}. */
export type RecorderDeps = Pick<ScrapeDeps, 'store' | 'now' | 'requeue'> & { config: Pick<Config, 'retry'> };

/**
 * Handles one push delivery of the dead-letter subscription or of the delay subscription. Never throws.
 *
 * - A delayed message (it has `notBefore`): "not yet" (a nack) before its time, then published to the
 *   article topic again.
 * - A dead letter whose article shows `maxDeliveryAttempts` fetches of its own: the article fails
 *   `dead-lettered`, with the last fetch error as its cause.
 * - A dead letter with fewer: its deliveries were spent on our own outage (the scraper or storage
 *   was down), not on the page. It is re-queued through the delay topic, `requeueDelayMs` doubled per
 *   re-queue, at most `maxRequeues` times; then the article fails, saying it was never fetched enough.
 */
export async function recordDeadLetter(body: unknown, deps: RecorderDeps): Promise<DeadLetterOutcome> {
  let delivery: Delivery;
  try {
    delivery = decodePushEnvelope(body);
  } catch (error) {
    return malformed(error);
  }
  const { retry } = deps.config;
  // A dead letter's own publish time is when it was dead-lettered; the submission is older.
  if (delivery.attributes[messageAttributes.submittedAt] === undefined) {
    delivery = { ...delivery, publishTime: parseTime(delivery.attributes[deadLetterAttributes.sourcePublishTime]) ?? delivery.publishTime };
  }
  const source = delivery;
  try {
    const notBefore = parseTime(delivery.attributes[messageAttributes.notBefore]);
    if (notBefore !== null) {
      if (deps.now().getTime() < notBefore.getTime()) return { kind: 'not-yet', delivery, notBefore };
      await deps.requeue.again(delivery.message, carriedAttributes(delivery));
      return { kind: 'requeued', delivery, to: 'topic', notBefore: null, requeues: Number(delivery.attributes[messageAttributes.requeues] ?? 0) || 0 };
    }
    const current = await deps.store.getArticle(delivery.message.urlKey);
    const requeues = Number(delivery.attributes[messageAttributes.requeues] ?? 0) || 0;
    const ownFetchesUsedUp = current !== null && !isTerminal(current) && current.attempts >= retry.maxDeliveryAttempts;
    const settled = current === null ? false : current.status === 'done' || resolvedSince(current, delivery);
    if (!settled && !ownFetchesUsedUp && requeues < retry.maxRequeues) {
      const until = new Date(deps.now().getTime() + requeueDelayMs(requeues, retry.requeueDelayMs, retry.requeueMaxDelayMs));
      const wait = { until, waitingFor: 'pipeline' };
      await park(deps, delivery, wait, { [messageAttributes.requeues]: String(requeues + 1) });
      // For the status view; the parked message carries the URL on even if this write fails.
      await noteWaiting(deps.store, current, source, wait, deps.now());
      return { kind: 'requeued', delivery, to: 'delay', notBefore: until, requeues: requeues + 1 };
    }
    const why = ownFetchesUsedUp || settled ? undefined : `Gave up after ${requeues} re-queues: the pipeline could not fetch the page (${current?.attempts ?? 0} fetches made); submit it again.`;
    return await deps.store.updateArticle(source.message.urlKey, (latest) => deadLetterChange(latest, source, deps.now(), why));
  } catch (error) {
    const classified = classifyError(error);
    const failure = classified.permanent ? { code: classified.code, message: classified.message } : classified.failure;
    return { kind: 'retry', delivery, code: failure.code, message: failure.message };
  }
}
