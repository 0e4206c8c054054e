/**
 * Firestore records: `articles/{urlKey}` (one per canonical URL) and `portfolios/{portfolioId}`.
 *
 * The store only reads and writes; what to write is decided by pure functions in scrape.ts, which
 * {@link ArticleStore.updateArticle} runs inside a transaction. On the real Firestore a transaction
 * from the server client holds its read until commit, so a concurrent or late delivery cannot
 * overwrite a `done` article it did not see.
 *
 * The scraper's hot path is one plain read and one blind write per delivery; concurrent deliveries
 * share them ({@link articleBatching}): reads as one getAll, writes as one commit.
 */
import { Firestore, Timestamp, type DocumentData, type DocumentReference } from '@google-cloud/firestore';
import { groupCalls, type GroupLimits } from './batching';
import type { Article } from './extract/types';
import { feedsFromData, type FeedRecord } from './feeds/record';
import { retryRoundFromData, type RetryRound } from './portfolio/retry';
import { collections } from './topology';

/** Where an article is in its life. `queued` until the scraper or the dead-letter recorder decides. */
export type ArticleStatus = 'queued' | 'done' | 'failed';

/** An error recorded on an article: a stable code and a sentence a person can act on. */
export interface ErrorRecord {
  code: string;
  message: string;
  at: Date;
  /** For `dead-lettered`: the error of the last delivery, if one was recorded. */
  cause?: { code: string; message: string; at: Date } | null;
}

/**
 * The fields extracted from the page (see extract/types.ts), stored at the top level of the article.
 * The page's own canonical URL is renamed (ours is `canonicalUrl`); counts are null until `done`.
 */
export type ArticleFields = Omit<Article, 'canonicalUrl' | 'wordCount' | 'readingTimeMinutes'> & {
  /** The canonical URL the page declares. */
  declaredCanonicalUrl: string | null;
  wordCount: number | null;
  readingTimeMinutes: number | null;
};

/** `articles/{urlKey}`. */
export interface ArticleRecord extends ArticleFields {
  /** The URL as first submitted. */
  url: string;
  canonicalUrl: string;
  urlKey: string;
  /** The URL the HTML came from, after redirects. */
  finalUrl: string | null;
  status: ArticleStatus;
  /**
   * Fetches of the current round (a round starts when the article is queued, or asked for again after
   * it was terminal): real requests to the site, not deliveries.
   */
  attempts: number;
  /**
   * Fetch numbers taken so far, over every round: fetch N is made only by the delivery holding the lease
   * `fetchLeases/{urlKey}~N` (see {@link ArticleStore.claimFetch}).
   */
  fetches: number;
  /** While the article waits (a Retry-After, a host backing off, our own outage): when it is tried next. */
  nextAttemptAt: Date | null;
  /** What it waits for: a host name, or `page` for the page's own Retry-After, or `pipeline` after our outage. */
  waitingFor: string | null;
  lastError: ErrorRecord | null;
  /** When the page was last fetched successfully. */
  scrapedAt: Date | null;
  /** When the article last became `done` or `failed`; submissions published earlier are satisfied. */
  terminalAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Bytes of a portfolio's URLs and keys at most: Firestore's document limit is 1 MiB; room is left for field names and the other fields. */
export const PORTFOLIO_URL_BYTES_LIMIT = 900_000;

/** `portfolios/{portfolioId}`. One document: 1,000 URLs of at most 2,048 characters plus keys fit well
 * under Firestore's 1 MiB limit in practice; the API refuses a portfolio whose URLs would not. */
export interface PortfolioRecord {
  portfolioId: string;
  name: string | null;
  createdAt: Date;
  /** Canonical URLs, in submission order, without duplicates. */
  urls: string[];
  /** `urlKey` of each entry of `urls`. */
  urlKeys: string[];
  /** The last retry round asked for (POST /portfolios/{id}/retry); see portfolio/retry.ts. */
  retryRound?: RetryRound | null;
  /** Feeds and sitemaps submitted to be expanded into articles; see feeds/record.ts. */
  feeds?: FeedRecord[];
}

/** The identity of an article: the URL as submitted, its canonical form and key. */
export interface QueuedUrl {
  url: string;
  canonicalUrl: string;
  urlKey: string;
}

/** The result of a transactional change: the record to write (null = write nothing) and a value. */
export interface ArticleChange<T> {
  next: ArticleRecord | null;
  result: T;
}

/** Who holds the lease of one fetch number of an article, until when. */
export interface FetchLease {
  /** The submission holding it (scrape.ts carrierOf: the portfolio id). */
  messageId: string;
  until: Date;
}

/** The answer of {@link ArticleStore.claimFetch}. */
export type FetchClaim = { claimed: true } | { claimed: false; holder: FetchLease };

/** Storage operations of the pipeline. The Firestore implementation is {@link firestoreStore}. */
export interface ArticleStore {
  /**
   * Reads the article, calls `change` with it (null when absent) and writes `next`, atomically.
   * `change` must be pure: it may run more than once when the transaction is retried.
   */
  updateArticle<T>(urlKey: string, change: (current: ArticleRecord | null) => ArticleChange<T>): Promise<T>;
  /**
   * Records for the status view that a queued article waits (`nextAttemptAt`, `waitingFor`), without
   * a transaction: concurrent notes share one commit. `absent` is the record to create when the
   * article had no document when it was read (created only if it still has none). Best effort: a note
   * that finds the document changed meanwhile (created by another delivery, or gone) is dropped, and a
   * note landing on an article that became terminal meanwhile is never shown (the views show a wait
   * only on a queued article). Resolves false when the note was dropped or storage failed.
   */
  noteWait(urlKey: string, wait: { until: Date; waitingFor: string; at: Date }, absent: ArticleRecord | null): Promise<boolean>;
  /** Reads one article; concurrent reads may share one getAll. */
  getArticle(urlKey: string): Promise<ArticleRecord | null>;
  /**
   * Writes the whole article, unconditionally (only for records that may replace any other).
   * Concurrent writes may share one commit: an article Firestore refuses fails only its own call, an
   * outage fails them all.
   */
  putArticle(urlKey: string, record: ArticleRecord): Promise<void>;
  /**
   * Takes the lease of fetch number `fetchNumber` of the article, or tells who has it. A lease is a
   * document that is only ever created (never updated), so exactly one delivery gets each number, on
   * the real Firestore and on both emulators (the embedded one loses contended transactions, but its
   * create refuses an existing document).
   */
  claimFetch(urlKey: string, fetchNumber: number, lease: FetchLease): Promise<FetchClaim>;
  /** Articles in the order of `urlKeys` (null where absent), read with one getAll. */
  getArticles(urlKeys: string[]): Promise<(ArticleRecord | null)[]>;
  createPortfolio(portfolio: PortfolioRecord): Promise<void>;
  getPortfolio(portfolioId: string): Promise<PortfolioRecord | null>;
  /** Rewrites the portfolio's URL list (after some URLs could not be queued). */
  setPortfolioUrls(portfolioId: string, urls: string[], urlKeys: string[]): Promise<void>;
  /** Records the portfolio's latest retry round. */
  setRetryRound(portfolioId: string, round: RetryRound): Promise<void>;
  /**
   * Reads the portfolio, calls `change` with it (null when absent) and writes `next` whole, atomically
   * (the feed expander adds URLs this way). `change` must be pure.
   */
  updatePortfolio<T>(portfolioId: string, change: (current: PortfolioRecord | null) => { next: PortfolioRecord | null; result: T }): Promise<T>;
  /** A new random portfolio id. */
  newPortfolioId(): string;
}

/** A blank extracted-fields block, for articles not yet scraped. */
export function emptyFields(): ArticleFields {
  return {
    title: null,
    publishedAt: null,
    publishedAtRaw: null,
    modifiedAt: null,
    outline: [],
    summary: null,
    wordCount: null,
    readingTimeMinutes: null,
    bannerImage: null,
    declaredCanonicalUrl: null,
    siteName: null,
    author: null,
    authors: [],
    language: null,
    description: null,
  };
}

/** The stored fields of an extracted article. */
export function fieldsFromArticle(article: Article): ArticleFields {
  return {
    title: article.title,
    publishedAt: article.publishedAt,
    publishedAtRaw: article.publishedAtRaw,
    modifiedAt: article.modifiedAt,
    outline: article.outline,
    summary: article.summary,
    wordCount: article.wordCount,
    readingTimeMinutes: article.readingTimeMinutes,
    bannerImage: article.bannerImage,
    declaredCanonicalUrl: article.canonicalUrl,
    siteName: article.siteName,
    author: article.author,
    authors: article.authors,
    language: article.language,
    description: article.description,
  };
}

/** A new `queued` article. */
export function queuedArticle(item: QueuedUrl, now: Date): ArticleRecord {
  return {
    url: item.url,
    canonicalUrl: item.canonicalUrl,
    urlKey: item.urlKey,
    finalUrl: null,
    status: 'queued',
    attempts: 0,
    fetches: 0,
    nextAttemptAt: null,
    waitingFor: null,
    lastError: null,
    scrapedAt: null,
    terminalAt: null,
    createdAt: now,
    updatedAt: now,
    ...emptyFields(),
  };
}

const ALREADY_EXISTS = 6;

// gRPC status codes that say "try again later" rather than "this request is wrong".
const TRANSIENT_STORAGE_CODES = new Set([1 /* CANCELLED */, 4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 10 /* ABORTED */, 13 /* INTERNAL */, 14 /* UNAVAILABLE */]);

/** True for a Firestore (gRPC) error that may succeed when retried. */
export function isTransientStorageError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && TRANSIENT_STORAGE_CODES.has(code);
}

function toDate(value: unknown): Date | null {
  if (value instanceof Timestamp) return value.toDate();
  if (value instanceof Date) return value;
  return null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function errorFrom(value: unknown): ErrorRecord | null {
  if (value === null || typeof value !== 'object') return null;
  const data = value as Record<string, unknown>;
  const code = str(data.code);
  const message = str(data.message);
  if (code === null || message === null) return null;
  const record: ErrorRecord = { code, message, at: toDate(data.at) ?? new Date(0) };
  if ('cause' in data) {
    const cause = errorFrom(data.cause);
    record.cause = cause === null ? null : { code: cause.code, message: cause.message, at: cause.at };
  }
  return record;
}

/** Reads a stored article, tolerating missing fields (older or hand-written documents). */
export function articleFromData(urlKey: string, data: DocumentData): ArticleRecord {
  const status = data.status === 'done' || data.status === 'failed' ? data.status : 'queued';
  const fields = emptyFields();
  return {
    url: str(data.url) ?? str(data.canonicalUrl) ?? '',
    canonicalUrl: str(data.canonicalUrl) ?? '',
    urlKey,
    finalUrl: str(data.finalUrl),
    status,
    attempts: num(data.attempts) ?? 0,
    fetches: num(data.fetches) ?? num(data.attempts) ?? 0,
    nextAttemptAt: toDate(data.nextAttemptAt),
    waitingFor: str(data.waitingFor),
    lastError: errorFrom(data.lastError),
    scrapedAt: toDate(data.scrapedAt),
    terminalAt: toDate(data.terminalAt),
    createdAt: toDate(data.createdAt) ?? new Date(0),
    updatedAt: toDate(data.updatedAt) ?? new Date(0),
    title: str(data.title),
    publishedAt: str(data.publishedAt),
    publishedAtRaw: str(data.publishedAtRaw),
    modifiedAt: str(data.modifiedAt),
    outline: Array.isArray(data.outline) ? data.outline.filter((entry): entry is string => typeof entry === 'string') : fields.outline,
    summary: str(data.summary),
    wordCount: num(data.wordCount),
    readingTimeMinutes: num(data.readingTimeMinutes),
    bannerImage: str(data.bannerImage),
    declaredCanonicalUrl: str(data.declaredCanonicalUrl),
    siteName: str(data.siteName),
    author: str(data.author),
    // Records written before `authors` existed have only `author`.
    authors: Array.isArray(data.authors) ? data.authors.filter((name): name is string => typeof name === 'string') : str(data.author) ? [str(data.author)!] : [],
    language: str(data.language),
    description: str(data.description),
  };
}

function portfolioFromData(portfolioId: string, data: DocumentData): PortfolioRecord {
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : []);
  return {
    portfolioId,
    name: str(data.name),
    createdAt: toDate(data.createdAt) ?? new Date(0),
    urls: strings(data.urls),
    urlKeys: strings(data.urlKeys),
    ...optional('retryRound', retryRoundFromData(data.retryRound)),
    ...optional('feeds', feedsFromData(data.feeds)),
  };
}

/** `{ [name]: value }`, or nothing when the document has no such field (older documents). */
function optional<K extends string, V>(name: K, value: V | null): { [key in K]?: V } {
  return (value === null ? {} : { [name]: value }) as { [key in K]?: V };
}

/** The stored form: the record minus the key (it is the document id). Dates become Timestamps. */
function articleData(record: ArticleRecord): DocumentData {
  const { urlKey: _urlKey, ...data } = record;
  return data;
}

/**
 * How concurrent single-article reads and writes share RPCs (see batching.ts). A commit holds at
 * most 20 articles: with records within the extractor's bounds (~40 KB at most, articleBounds) that
 * stays far below Firestore's 10 MiB request limit.
 */
export const articleBatching: { reads: GroupLimits; writes: GroupLimits; notes: GroupLimits } = {
  reads: { maxInFlight: 2, maxBatch: 100 },
  writes: { maxInFlight: 2, maxBatch: 20 },
  // Wait notes come in bursts (the deliveries of one park publish resolve together) from messages
  // that will wait seconds anyway: a note waits a little for the others of its burst.
  notes: { maxInFlight: 2, maxBatch: 20, lingerMs: 5 },
};

/** The pipeline's storage on Firestore; collection names get `prefix` (tests use a unique one). */
export function firestoreStore(firestore: Firestore, prefix = ''): ArticleStore {
  const articles = firestore.collection(`${prefix}${collections.articles}`);
  const portfolios = firestore.collection(`${prefix}${collections.portfolios}`);
  const fetchLeases = firestore.collection(`${prefix}${collections.fetchLeases}`);
  const articleRef = (urlKey: string): DocumentReference => articles.doc(urlKey);

  const getArticles = async (urlKeys: string[]): Promise<(ArticleRecord | null)[]> => {
    if (urlKeys.length === 0) return [];
    const snapshots = await firestore.getAll(...urlKeys.map(articleRef));
    return snapshots.map((snapshot, index) => (snapshot.exists ? articleFromData(urlKeys[index] ?? snapshot.id, snapshot.data() ?? {}) : null));
  };

  // Concurrent deliveries' reads go out as one getAll (a key asked twice is read once).
  const readArticle = groupCalls<string, ArticleRecord | null>(async (urlKeys) => {
    const unique = [...new Set(urlKeys)];
    const records = await getArticles(unique);
    const byKey = new Map(unique.map((urlKey, index) => [urlKey, records[index] ?? null]));
    return urlKeys.map((urlKey) => byKey.get(urlKey) ?? null);
  }, articleBatching.reads);

  // Concurrent blind writes go out as one commit; for a key written twice the later record wins, as
  // two sets in a row would. A commit refused as a whole for a reason a retry cannot fix (one
  // oversized article) is split, so only the write at fault fails.
  const writeArticle = groupCalls<{ urlKey: string; record: ArticleRecord }, unknown>(async (writes) => {
    const latest = new Map(writes.map((write) => [write.urlKey, write.record]));
    const commit = async (entries: [string, ArticleRecord][]): Promise<void> => {
      const batch = firestore.batch();
      for (const [urlKey, record] of entries) batch.set(articleRef(urlKey), articleData(record));
      await batch.commit();
    };
    try {
      await commit([...latest]);
      return writes.map(() => null);
    } catch (error) {
      if (latest.size === 1 || isTransientStorageError(error)) throw error;
      const outcomes = new Map<string, unknown>();
      await Promise.all(
        [...latest].map(async (entry) => {
          try {
            await commit([entry]);
            outcomes.set(entry[0], null);
          } catch (own) {
            outcomes.set(entry[0], own);
          }
        }),
      );
      return writes.map((write) => outcomes.get(write.urlKey) ?? null);
    }
  }, articleBatching.writes);

  // Wait notes of concurrent deliveries (a host's parked URLs) go out as one commit: an update of the
  // three wait fields of an existing article, or the create of an absent one. A commit refused as a
  // whole (one note's document changed meanwhile) is retried note by note.
  type WaitNote = { urlKey: string; wait: { until: Date; waitingFor: string; at: Date }; absent: ArticleRecord | null };
  const writeNotes = groupCalls<WaitNote, boolean>(async (notes) => {
    const commit = async (entries: WaitNote[]): Promise<void> => {
      const batch = firestore.batch();
      for (const note of entries) {
        if (note.absent !== null) batch.create(articleRef(note.urlKey), articleData({ ...note.absent, nextAttemptAt: note.wait.until, waitingFor: note.wait.waitingFor, updatedAt: note.wait.at }));
        else batch.update(articleRef(note.urlKey), { nextAttemptAt: note.wait.until, waitingFor: note.wait.waitingFor, updatedAt: note.wait.at });
      }
      await batch.commit();
    };
    try {
      await commit(notes);
      return notes.map(() => true);
    } catch (error) {
      if (notes.length === 1 || isTransientStorageError(error)) return notes.map(() => false);
      return Promise.all(notes.map((note) => commit([note]).then(() => true, () => false)));
    }
  }, articleBatching.notes);

  return {
    noteWait(urlKey, wait, absent) {
      return writeNotes({ urlKey, wait, absent }).catch(() => false);
    },

    async updateArticle(urlKey, change) {
      const ref = articleRef(urlKey);
      return firestore.runTransaction(async (transaction) => {
        const snapshot = await transaction.get(ref);
        const current = snapshot.exists ? articleFromData(urlKey, snapshot.data() ?? {}) : null;
        const { next, result } = change(current);
        if (next !== null) transaction.set(ref, articleData(next));
        return result;
      });
    },

    getArticle(urlKey) {
      return readArticle(urlKey);
    },

    async putArticle(urlKey, record) {
      const error = await writeArticle({ urlKey, record });
      if (error !== null) throw error;
    },

    async claimFetch(urlKey, fetchNumber, lease) {
      const ref = fetchLeases.doc(`${urlKey}~${fetchNumber}`);
      try {
        await ref.create({ messageId: lease.messageId, until: lease.until, urlKey, fetchNumber });
        return { claimed: true };
      } catch (error) {
        if ((error as { code?: unknown }).code !== ALREADY_EXISTS) throw error;
      }
      const snapshot = await ref.get();
      const data = snapshot.data() ?? {};
      return { claimed: false, holder: { messageId: str(data.messageId) ?? '', until: toDate(data.until) ?? new Date(0) } };
    },

    getArticles,

    async createPortfolio(portfolio) {
      const { portfolioId, ...data } = portfolio;
      await portfolios.doc(portfolioId).create(data);
    },

    async getPortfolio(portfolioId) {
      const snapshot = await portfolios.doc(portfolioId).get();
      return snapshot.exists ? portfolioFromData(portfolioId, snapshot.data() ?? {}) : null;
    },

    async setPortfolioUrls(portfolioId, urls, urlKeys) {
      await portfolios.doc(portfolioId).update({ urls, urlKeys });
    },

    async setRetryRound(portfolioId, round) {
      await portfolios.doc(portfolioId).update({ retryRound: round });
    },

    async updatePortfolio(portfolioId, change) {
      const ref = portfolios.doc(portfolioId);
      return firestore.runTransaction(async (transaction) => {
        const snapshot = await transaction.get(ref);
        const { next, result } = change(snapshot.exists ? portfolioFromData(portfolioId, snapshot.data() ?? {}) : null);
        if (next !== null) {
          const { portfolioId: _id, ...data } = next;
          transaction.set(ref, data);
        }
        return result;
      });
    },

    newPortfolioId() {
      return portfolios.doc().id;
    },
  };
}
