/**
 * In-memory stand-ins for the pipeline's dependencies, for unit tests of the pure-ish domain code.
 */
import type { Article } from '../../functions/src/extract/types';
import { FetchError, type FetchedPage } from '../../functions/src/fetch/types';
import type { RetryRound } from '../../functions/src/portfolio/retry';
import type { Delivery, Requeue, UrlMessage } from '../../functions/src/scrape';
import type { ArticleRecord, ArticleStore, FetchClaim, FetchLease, PortfolioRecord } from '../../functions/src/store';
import { canonicalizeUrl } from '../../functions/src/urls';

/** An ArticleStore over Maps. `failNext` makes the next operations throw the given error. */
export class MemoryStore implements ArticleStore {
  readonly articles = new Map<string, ArticleRecord>();
  readonly portfolios = new Map<string, PortfolioRecord>();
  /** `urlKey~fetchNumber` → lease, as fetchLeases documents. */
  readonly leases = new Map<string, FetchLease>();
  private failures: unknown[] = [];
  private nextId = 1;

  failNext(...errors: unknown[]): void {
    this.failures.push(...errors);
  }

  private maybeFail(): void {
    if (this.failures.length > 0) throw this.failures.shift();
  }

  async updateArticle<T>(urlKey: string, change: (current: ArticleRecord | null) => { next: ArticleRecord | null; result: T }): Promise<T> {
    this.maybeFail();
    const current = this.articles.get(urlKey);
    const { next, result } = change(current === undefined ? null : structuredClone(current));
    if (next !== null) this.articles.set(urlKey, structuredClone(next));
    return result;
  }

  async noteWait(urlKey: string, wait: { until: Date; waitingFor: string; at: Date }, absent: ArticleRecord | null): Promise<boolean> {
    this.maybeFail();
    const current = this.articles.get(urlKey);
    if ((current === undefined) !== (absent !== null)) return false;
    this.articles.set(urlKey, { ...structuredClone(current ?? absent!), nextAttemptAt: wait.until, waitingFor: wait.waitingFor, updatedAt: wait.at });
    return true;
  }

  async getArticle(urlKey: string): Promise<ArticleRecord | null> {
    this.maybeFail();
    return this.articles.get(urlKey) ?? null;
  }

  async putArticle(urlKey: string, record: ArticleRecord): Promise<void> {
    this.maybeFail();
    this.articles.set(urlKey, structuredClone(record));
  }

  async claimFetch(urlKey: string, fetchNumber: number, lease: FetchLease): Promise<FetchClaim> {
    this.maybeFail();
    const id = `${urlKey}~${fetchNumber}`;
    const holder = this.leases.get(id);
    if (holder) return { claimed: false, holder: structuredClone(holder) };
    this.leases.set(id, structuredClone(lease));
    return { claimed: true };
  }

  async getArticles(urlKeys: string[]): Promise<(ArticleRecord | null)[]> {
    this.maybeFail();
    return urlKeys.map((key) => this.articles.get(key) ?? null);
  }

  async createPortfolio(portfolio: PortfolioRecord): Promise<void> {
    this.maybeFail();
    this.portfolios.set(portfolio.portfolioId, structuredClone(portfolio));
  }

  async getPortfolio(portfolioId: string): Promise<PortfolioRecord | null> {
    this.maybeFail();
    return this.portfolios.get(portfolioId) ?? null;
  }

  async setPortfolioUrls(portfolioId: string, urls: string[], urlKeys: string[]): Promise<void> {
    const portfolio = this.portfolios.get(portfolioId);
    if (portfolio) this.portfolios.set(portfolioId, { ...portfolio, urls, urlKeys });
  }

  async setRetryRound(portfolioId: string, round: RetryRound): Promise<void> {
    this.maybeFail();
    const portfolio = this.portfolios.get(portfolioId);
    if (portfolio) this.portfolios.set(portfolioId, { ...portfolio, retryRound: structuredClone(round) });
  }

  async updatePortfolio<T>(portfolioId: string, change: (current: PortfolioRecord | null) => { next: PortfolioRecord | null; result: T }): Promise<T> {
    this.maybeFail();
    const current = this.portfolios.get(portfolioId);
    const { next, result } = change(current === undefined ? null : structuredClone(current));
    if (next !== null) this.portfolios.set(portfolioId, structuredClone(next));
    return result;
  }

  newPortfolioId(): string {
    return `portfolio${this.nextId++}`;
  }
}

/** A gRPC-style error as the Firestore client throws it. */
export function grpcError(code: number, message = `grpc code ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

/** The message the API would publish for `url`. */
export function urlMessage(url: string, portfolioId = 'p1'): UrlMessage {
  const result = canonicalizeUrl(url);
  if (!result.ok) throw new Error(`test URL ${url} is not acceptable: ${result.message}`);
  return { url, canonicalUrl: result.canonicalUrl, urlKey: result.urlKey, portfolioId };
}

/** A push envelope as Pub/Sub sends it. */
export function pushBody(
  message: unknown,
  options: { messageId?: string; publishTime?: Date; deliveryAttempt?: number; attributes?: Record<string, string> } = {},
): Record<string, unknown> {
  return {
    subscription: 'projects/test/subscriptions/article-urls-scraper',
    message: {
      data: Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)).toString('base64'),
      attributes: options.attributes ?? {},
      messageId: options.messageId ?? 'm-1',
      publishTime: (options.publishTime ?? new Date('2026-01-01T00:00:00Z')).toISOString(),
    },
    ...(options.deliveryAttempt === undefined ? {} : { deliveryAttempt: options.deliveryAttempt }),
  };
}

/** A decoded delivery for the pure decision functions. */
export function delivery(url: string, options: { publishTime?: Date | null; deliveryAttempt?: number | null; attributes?: Record<string, string> } = {}): Delivery {
  return {
    message: urlMessage(url),
    messageId: 'm-1',
    publishTime: options.publishTime === undefined ? new Date('2026-01-01T00:00:00Z') : options.publishTime,
    deliveryAttempt: options.deliveryAttempt ?? null,
    attributes: options.attributes ?? {},
  };
}

/** A fetched page. */
export function page(url: string, html = '<html><head><title>T</title></head><body><p>text</p></body></html>'): FetchedPage {
  return { requestedUrl: url, finalUrl: url, status: 200, contentType: 'text/html', charset: 'utf-8', html, bytes: html.length, redirects: 0, durationMs: 1 };
}

/** An extracted article with a title and the rest empty. */
export function article(title: string): Article {
  return {
    title,
    publishedAt: '2026-01-02T00:00:00.000Z',
    publishedAtRaw: '2 January 2026',
    modifiedAt: null,
    outline: ['One', 'Two'],
    summary: null,
    wordCount: 600,
    readingTimeMinutes: 3,
    bannerImage: 'https://example.com/banner.jpg',
    canonicalUrl: null,
    siteName: null,
    author: null,
    authors: [],
    language: 'en',
    description: null,
  };
}

/** A fetchPage that answers from a script: each call takes the next entry (a page or a FetchError). */
export function scriptedFetch(...script: (FetchedPage | FetchError)[]): {
  fetchPage: (url: string) => Promise<FetchedPage>;
  calls: string[];
  push(...more: (FetchedPage | FetchError)[]): void;
} {
  const calls: string[] = [];
  return {
    calls,
    push: (...more) => script.push(...more),
    fetchPage: async (url: string) => {
      calls.push(url);
      const next = script.shift();
      if (next === undefined) throw new Error('fetchPage called more often than the test expected');
      if (next instanceof FetchError) throw next;
      return next;
    },
  };
}

/** A Requeue that keeps what it would publish. */
export function recordingRequeue(): { requeue: Requeue; delayed: Array<{ message: UrlMessage; attributes: Record<string, string> }>; again: Array<{ message: UrlMessage; attributes: Record<string, string> }> } {
  const delayed: Array<{ message: UrlMessage; attributes: Record<string, string> }> = [];
  const again: Array<{ message: UrlMessage; attributes: Record<string, string> }> = [];
  return {
    delayed,
    again,
    requeue: {
      delay: async (message, attributes) => void delayed.push({ message, attributes }),
      again: async (message, attributes) => void again.push({ message, attributes }),
    },
  };
}
