/**
 * The `api` function: submit a portfolio of URLs, follow its progress, read one article.
 *
 * functions-framework parses the body before this code runs (JSON for application/json, a string
 * for text/plain, a Buffer for other types; `req.rawBody` keeps the bytes). Two consequences:
 * - malformed JSON sent as application/json, an unknown charset, or a form body qs refuses (too
 *   deep, too many parameters) is
 *   answered by the framework itself, with its own 400/413/415 HTML page (no stack trace when
 *   NODE_ENV=production); everything else is answered here, in JSON. The express app is the
 *   framework's, with no error-handler hook, so this can't be changed from here;
 * - the framework accepts bodies up to 1 GB, so the size limit is checked here, on the raw bytes;
 *   compressed bodies never reach its parsers (http/compressedBodies.ts answers them 415).
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Config } from './config';
import type { Logger } from './log';
import { isFeedMessage, type FeedMessage } from './feeds/message';
import { feedView, queuedFeed } from './feeds/record';
import { asSeenDuringRound } from './portfolio/retry';
import { portfolioRoutes, type LoadedPortfolio } from './portfolio/routes';
import { parseTerminalBitmap } from './portfolio/terminal';
import { createRouter, prefersHtml, type RouteHandler } from './routing';
import type { ArticleView, FeedView } from './web/pages';
import { sendErrorPage, webRoutes, type IndexedArticle } from './web/routes';
import { chunkIndexes, readAhead } from './portfolio/chunks';
import type { UrlMessage } from './scrape';
import { ApiError, storageError } from './apiError';
import { PORTFOLIO_URL_BYTES_LIMIT } from './store';
import { type ArticleRecord, type ArticleStore, type ErrorRecord, type PortfolioRecord } from './store';
import { canonicalizeUrl, isWellFormed, type HostBlockCheck, type UrlRejectionCode } from './urls';

export { ApiError } from './apiError';

/** Publishes one message per URL and settles each (fulfilled with the message id, or rejected). */
export type PublishUrls = (messages: UrlMessage[]) => Promise<PromiseSettledResult<string>[]>;

/** Dependencies of {@link createApi}. */
export interface ApiDeps {
  config: Pick<Config, 'api'>;
  store: ArticleStore;
  publishUrls: PublishUrls;
  blockReason: HostBlockCheck;
  /** Ports URLs may name (the fetcher's `FETCH_ALLOWED_PORTS`); omitted: any. */
  allowedPorts?: readonly number[];
  now: () => Date;
  log: Logger;
}

/** A URL the API refused, with why. */
export interface RejectedUrl {
  url: string;
  code: UrlRejectionCode;
  message: string;
}

/** The 202 answer to POST /portfolios. */
export interface SubmitResponse {
  portfolioId: string;
  accepted: number;
  /** Feeds accepted (only when the request had "feeds"). */
  feeds?: number;
  duplicates: number;
  rejected: RejectedUrl[];
  statusUrl: string;
}

const NAME_MAX_LENGTH = 200;

/** Feeds and sitemaps accepted in one POST /portfolios. */
export const MAX_FEEDS_PER_REQUEST = 20;
const PORTFOLIO_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The submitted URL list, from a JSON or text body. */
export interface Submission {
  urls: string[];
  /** Feeds or sitemaps to expand into article URLs (JSON bodies and the web form only). */
  feeds?: string[];
  name: string | null;
}

/**
 * Reads the URL list from a request body as functions-framework delivered it.
 * Throws {@link ApiError} (400/413/415) for anything that is not a usable submission.
 */
export function parseSubmission(req: Pick<Request, 'body' | 'rawBody' | 'headers'> & { is(type: string): string | false | null }, limits: Config['api']): Submission {
  const declaredLength = Number(req.headers['content-length']);
  const length = req.rawBody?.length ?? (Number.isFinite(declaredLength) ? declaredLength : 0);
  if (length > limits.maxBodyBytes) {
    throw new ApiError(413, 'body-too-large', `The request body has ${length} bytes; at most ${limits.maxBodyBytes} are accepted.`, { maxBytes: limits.maxBodyBytes });
  }
  const isType = (type: string): boolean => {
    const answer = req.is(type);
    // type-is answers null for a request with no body at all (no Content-Length, not chunked);
    // the declared type still says what was meant, and the body is then empty.
    return answer === null ? declaredMediaType(req.headers['content-type']) === type : answer !== false;
  };
  let submission: Submission;
  if (isType('application/json')) {
    submission = fromJson(req.body);
  } else if (isType('text/plain')) {
    const text = typeof req.body === 'string' ? req.body : '';
    const urls = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    submission = { urls, name: null };
  } else {
    const type = req.headers['content-type'];
    throw new ApiError(
      415,
      'unsupported-media-type',
      `${type === undefined ? 'The request has no Content-Type' : `Content-Type ${type} is not accepted`}; send application/json ({"urls": [...]}) or text/plain (one URL per line).`,
    );
  }
  const feeds = submission.feeds ?? [];
  if (submission.urls.length === 0 && feeds.length === 0) throw new ApiError(400, 'no-urls', 'The request contains no URLs.');

  if (submission.urls.length > limits.maxUrls) {
    throw new ApiError(413, 'too-many-urls', `The request contains ${submission.urls.length} URLs; at most ${limits.maxUrls} are accepted per portfolio.`, {
      maxUrls: limits.maxUrls,
      received: submission.urls.length,
    });
  }
  return submission;
}

function declaredMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

function fromJson(body: unknown): Submission {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'invalid-body', 'The JSON body must be an object: {"urls": ["https://…", …], "name": "optional"}.');
  }
  const { urls: given, feeds, name } = body as { urls?: unknown; feeds?: unknown; name?: unknown };
  // "feeds" may come alone: then "urls" may be left out.
  const urls = given === undefined && feeds !== undefined ? [] : given;
  for (const [field, list] of [['urls', urls], ['feeds', feeds ?? []]] as const) {
    if (!Array.isArray(list)) throw new ApiError(400, 'invalid-body', `The JSON body needs "${field}": an array of URL strings.`);
    const badIndex = list.findIndex((entry) => typeof entry !== 'string');
    if (badIndex >= 0) {
      throw new ApiError(400, 'invalid-body', `${field}[${badIndex}] is not a string; every entry of "${field}" must be a URL string.`, { index: badIndex });
    }
  }
  // An unpaired surrogate (JSON allows "\uD800") is not text, and Firestore refuses to store it.
  if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > NAME_MAX_LENGTH || !isWellFormed(name))) {
    throw new ApiError(400, 'invalid-body', `"name" must be text of at most ${NAME_MAX_LENGTH} characters.`);
  }
  return { urls: urls as string[], ...(feeds === undefined ? {} : { feeds: feeds as string[] }), name: typeof name === 'string' && name.trim() !== '' ? name.trim() : null };
}

/** Accepted URLs (first spelling of each canonical URL), duplicates and rejections. */
export interface Triage {
  accepted: UrlMessage[];
  duplicates: number;
  rejected: RejectedUrl[];
}

/** Canonicalises the submitted URLs, drops duplicates and collects what can never be scraped. */
export function triageUrls(urls: string[], portfolioId: string, blockReason: HostBlockCheck, allowedPorts?: readonly number[]): Triage {
  const seen = new Set<string>();
  const triage: Triage = { accepted: [], duplicates: 0, rejected: [] };
  for (const url of urls) {
    const result = canonicalizeUrl(url, { blockReason, allowedPorts });
    if (!result.ok) {
      triage.rejected.push({ url, code: result.code, message: result.message });
    } else if (seen.has(result.urlKey)) {
      triage.duplicates += 1;
    } else {
      seen.add(result.urlKey);
      triage.accepted.push({ url: url.trim(), canonicalUrl: result.canonicalUrl, urlKey: result.urlKey, portfolioId });
    }
  }
  return triage;
}

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

function errorView(error: ErrorRecord | null): Record<string, unknown> | undefined {
  if (error === null) return undefined;
  return {
    code: error.code,
    message: error.message,
    at: iso(error.at),
    ...(error.cause ? { cause: { code: error.cause.code, message: error.cause.message, at: iso(error.cause.at) } } : {}),
  };
}

/** One entry of GET /portfolios/{id}. */
export function portfolioArticleView(url: string, article: ArticleRecord | null): Record<string, unknown> {
  const error = errorView(article?.status === 'failed' ? article.lastError : null);
  return {
    url,
    status: article?.status ?? 'queued',
    title: article?.title ?? null,
    publishedAt: article?.publishedAt ?? null,
    authors: article?.authors ?? [],
    outline: article?.outline ?? [],
    readingTimeMinutes: article?.readingTimeMinutes ?? null,
    bannerImage: article?.bannerImage ?? null,
    attempts: article?.attempts ?? 0,
    // While it waits (a Retry-After, a host backing off, our own outage): until when, and for what.
    nextAttemptAt: article && article.status === 'queued' ? iso(article.nextAttemptAt) : null,
    waitingFor: article && article.status === 'queued' && article.nextAttemptAt !== null ? article.waitingFor : null,
    ...(error ? { error } : {}),
  };
}

/** GET /portfolios/{id}: the portfolio with every article's state, and counts that add up. */
export function portfolioView(portfolio: PortfolioRecord, articles: (ArticleRecord | null)[]): Record<string, unknown> {
  const counts = { queued: 0, done: 0, failed: 0 };
  const views = portfolio.urls.map((url, index) => {
    const article = articles[index] ?? null;
    counts[article?.status ?? 'queued'] += 1;
    return portfolioArticleView(url, article);
  });
  return { portfolioId: portfolio.portfolioId, name: portfolio.name, createdAt: iso(portfolio.createdAt), counts, articles: views, ...feedsOf(portfolio) };
}

/** The portfolio's feeds for its views (only when it has any: the view of a URL list is unchanged). */
function feedsOf(portfolio: PortfolioRecord): { feeds?: Record<string, unknown>[] } {
  return portfolio.feeds && portfolio.feeds.length > 0 ? { feeds: portfolio.feeds.map(feedView) } : {};
}

/**
 * GET /portfolios/{id}?terminal=…: the articles that were read (those the caller does not hold as
 * terminal), each with its `index`, counted among themselves; `total` is the portfolio's size.
 */
export function pollView(loaded: LoadedPortfolio): Record<string, unknown> {
  const { portfolio, indexes, articles } = loaded;
  const counts = { queued: 0, done: 0, failed: 0 };
  const views = indexes.map((index, position) => {
    const article = articles[position] ?? null;
    counts[article?.status ?? 'queued'] += 1;
    return { index, ...portfolioArticleView(portfolio.urls[index] ?? '', article) };
  });
  return { portfolioId: portfolio.portfolioId, name: portfolio.name, createdAt: iso(portfolio.createdAt), total: portfolio.urls.length, counts, articles: views, ...feedsOf(portfolio) };
}

/** GET /articles?url=…: the whole record. */
export function articleView(article: ArticleRecord): Record<string, unknown> {
  const { lastError, scrapedAt, terminalAt: _terminalAt, createdAt, updatedAt, nextAttemptAt, fetches: _fetches, ...rest } = article;
  return { ...rest, nextAttemptAt: iso(nextAttemptAt), lastError: errorView(lastError) ?? null, scrapedAt: iso(scrapedAt), createdAt: iso(createdAt), updatedAt: iso(updatedAt) };
}

/** Creates the `api` HTTP function. */
export function createApi(deps: ApiDeps): (req: Request, res: Response) => Promise<void> {
  const { store, log } = deps;
  // From configuration only (PUBLIC_BASE_URL; relative when unset): Host and X-Forwarded-Proto are the client's to set.
  const statusUrlOf = (_req: Request, portfolioId: string): string => `${deps.config.api.publicBaseUrl ?? ''}/portfolios/${portfolioId}`;

  async function submit(req: Request, res: Response): Promise<Record<string, unknown>> {
    const body = await createPortfolio(parseSubmission(req, deps.config.api), req);
    res.status(202).json(body);
    return { portfolioId: body.portfolioId, accepted: body.accepted, duplicates: body.duplicates, rejected: body.rejected.length };
  }

  /** Records a portfolio and queues its URLs (POST /portfolios, and the web form). Throws ApiError. */
  async function createPortfolio(submission: Submission, req: Request): Promise<SubmitResponse> {
    const feeds = submission.feeds ?? [];
    if (feeds.length > MAX_FEEDS_PER_REQUEST) {
      throw new ApiError(413, 'too-many-feeds', `The request contains ${feeds.length} feeds; at most ${MAX_FEEDS_PER_REQUEST} are accepted per portfolio.`, { maxFeeds: MAX_FEEDS_PER_REQUEST, received: feeds.length });
    }
    const portfolioId = store.newPortfolioId();
    const triage = triageUrls(submission.urls, portfolioId, deps.blockReason, deps.allowedPorts);
    const feedTriage = triageUrls(feeds, portfolioId, deps.blockReason, deps.allowedPorts);
    triage.rejected.push(...feedTriage.rejected);
    if (triage.accepted.length === 0 && feedTriage.accepted.length === 0) {
      throw new ApiError(400, 'no-acceptable-urls', 'None of the URLs can be scraped; see details.rejected for why.', { rejected: triage.rejected });
    }
    const urlBytes = triage.accepted.reduce((sum, item) => sum + Buffer.byteLength(item.canonicalUrl) + item.urlKey.length, 0);
    if (urlBytes > PORTFOLIO_URL_BYTES_LIMIT) {
      throw new ApiError(413, 'portfolio-too-large', `The URLs take ${urlBytes} bytes; one portfolio holds at most ${PORTFOLIO_URL_BYTES_LIMIT}. Split it into several.`);
    }
    const now = deps.now();
    const portfolio: PortfolioRecord = {
      portfolioId,
      name: submission.name,
      createdAt: now,
      urls: triage.accepted.map((item) => item.canonicalUrl),
      urlKeys: triage.accepted.map((item) => item.urlKey),
      ...(feedTriage.accepted.length > 0 ? { feeds: feedTriage.accepted.map((item) => queuedFeed(item, now)) } : {}),
    };
    // One message expands all of the portfolio's feeds, one after the other.
    const feedMessages: FeedMessage[] = feedTriage.accepted.slice(0, 1).map((item) => ({ ...item, kind: 'feed' }));
    // The portfolio document and the messages go out together; 202 only once both are confirmed.
    // Article records are created by the scraper on first delivery (the status view counts a URL
    // without one as queued): writing 1,000 of them here would cost more than the rest of the request.
    const statusUrl = statusUrlOf(req, portfolioId);
    const [recorded, results] = await Promise.all([
      store.createPortfolio(portfolio).then(
        () => null,
        (error: unknown) => error,
      ),
      deps.publishUrls([...triage.accepted, ...feedMessages]),
    ]);
    if (recorded !== null) {
      log({ severity: 'ERROR', message: `Recording portfolio ${portfolioId} failed: ${String(recorded)}`, portfolioId, code: 'storage-unavailable' });
      const error = storageError(recorded);
      throw new ApiError(error.status, error.code, `${error.message} The portfolio was not recorded; submit it again.`, undefined, error.headers);
    }
    const notQueued = [...triage.accepted, ...feedMessages].filter((_item, index) => results[index]?.status !== 'fulfilled');
    if (notQueued.length > 0) {
      await dropUnqueued(portfolio, notQueued);
      const firstFailure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      log({ severity: 'ERROR', message: `Publishing failed for ${notQueued.length} of ${triage.accepted.length} URLs`, portfolioId, code: 'publish-failed', cause: String(firstFailure?.reason) });
      throw new ApiError(
        503,
        'publish-failed',
        `${notQueued.length} of ${triage.accepted.length} URLs could not be queued; submit them again later. The others were queued.`,
        { portfolioId, statusUrl, queued: triage.accepted.length - notQueued.length, notQueued: notQueued.flatMap((item) => (isFeedMessage(item) ? feedTriage.accepted.map((feed) => feed.url) : [item.url])) },
        { 'Retry-After': '5' },
      );
    }
    return {
      portfolioId,
      accepted: triage.accepted.length,
      ...(submission.feeds ? { feeds: feedTriage.accepted.length } : {}),
      duplicates: triage.duplicates + feedTriage.duplicates,
      rejected: triage.rejected,
      statusUrl,
    };
  }

  /**
   * After a partial publish failure the portfolio lists only what was queued, so its counts still add
   * up and nothing stays `queued` forever. Best effort: the 503 names the URLs either way.
   */
  async function dropUnqueued(portfolio: PortfolioRecord, notQueued: UrlMessage[]): Promise<void> {
    const dropped = new Set(notQueued.map((item) => item.urlKey));
    const keep = portfolio.urlKeys.map((key) => !dropped.has(key));
    try {
      if (notQueued.some(isFeedMessage)) {
        await store.updatePortfolio(portfolio.portfolioId, (current) => ({ next: current && { ...current, feeds: [] }, result: null }));
      }
      await store.setPortfolioUrls(
        portfolio.portfolioId,
        portfolio.urls.filter((_url, index) => keep[index]),
        portfolio.urlKeys.filter((_key, index) => keep[index]),
      );
    } catch (error) {
      log({ severity: 'ERROR', message: `Could not drop unqueued URLs from portfolio ${portfolio.portfolioId}: ${String(error)}`, portfolioId: portfolio.portfolioId });
    }
  }

  /** Reads the portfolio and the articles `read` picks (default all), shown as the current retry round sees them. */
  async function loadPortfolio(portfolioId: string, options: { raw?: boolean; read?: (portfolio: PortfolioRecord) => number[] } = {}): Promise<LoadedPortfolio> {
    if (!PORTFOLIO_ID.test(portfolioId)) throw new ApiError(404, 'portfolio-not-found', `There is no portfolio ${portfolioId}.`);
    try {
      const portfolio = await store.getPortfolio(portfolioId);
      if (portfolio === null) throw new ApiError(404, 'portfolio-not-found', `There is no portfolio ${portfolioId}.`);
      const indexes = options.read ? options.read(portfolio) : portfolio.urlKeys.map((_key, index) => index);
      const urlKeys = indexes.map((index) => portfolio.urlKeys[index] ?? '');
      const stored = urlKeys.length === 0 ? [] : await store.getArticles(urlKeys);
      return { portfolio, indexes, articles: options.raw ? stored : asSeenDuringRound(stored, urlKeys, portfolio.retryRound) };
    } catch (error) {
      throw error instanceof ApiError ? error : storageError(error);
    }
  }

  async function showPortfolio(req: Request, res: Response): Promise<Record<string, unknown>> {
    const portfolioId = String(req.params.portfolioId);
    const exported = /^(.*)\.(csv|json)$/.exec(portfolioId);
    if (exported) return portfolioPages.exportAs(exported[2] as 'csv' | 'json')(exported[1] ?? '', res);
    if (req.query.terminal === undefined && prefersHtml(req)) return web.portfolio(req, res);
    if (req.query.terminal === undefined) {
      const { portfolio, articles } = await loadPortfolio(portfolioId);
      res.status(200).json(portfolioView(portfolio, articles));
      return { portfolioId };
    }
    // A poll: only the articles the caller does not already hold as done or failed are read.
    let known: ((index: number) => boolean) | undefined;
    const loaded = await loadPortfolio(portfolioId, {
      read: (portfolio) => {
        known = parseTerminalBitmap(req.query.terminal, portfolio.urls.length);
        return portfolio.urls.map((_url, index) => index).filter((index) => !known?.(index));
      },
    });
    res.status(200).json(pollView(loaded));
    return { portfolioId, read: loaded.indexes.length };
  }

  async function showArticle(req: Request, res: Response): Promise<Record<string, unknown>> {
    const url = req.query.url;
    if (typeof url !== 'string' || url.trim() === '') {
      throw new ApiError(400, 'missing-url', 'Give the article URL as a query parameter: /articles?url=https%3A%2F%2Fexample.com%2Fpost');
    }
    const result = canonicalizeUrl(url, { blockReason: deps.blockReason });
    if (!result.ok) throw new ApiError(400, result.code, result.message);
    let article: ArticleRecord | null;
    try {
      article = await store.getArticle(result.urlKey);
    } catch (error) {
      throw storageError(error);
    }
    if (article === null) throw new ApiError(404, 'article-not-found', `No article has been submitted for ${result.canonicalUrl}.`, { canonicalUrl: result.canonicalUrl });
    res.status(200).json(articleView(article));
    return { urlKey: result.urlKey };
  }

  const portfolioPages = portfolioRoutes({ store, publishUrls: deps.publishUrls, now: deps.now, loadPortfolio, portfolioView, statusUrl: statusUrlOf, sendErrorPage });

  const web = webRoutes({
    limits: deps.config.api,
    parseText: (req, text) => parseSubmission({ body: text, rawBody: req.rawBody, headers: { ...req.headers, 'content-type': 'text/plain' }, is: (type) => (type === 'text/plain' ? type : false) }, deps.config.api),
    createPortfolio,
    openPortfolio: async (portfolioId) => {
      const { portfolio } = await loadPortfolio(portfolioId, { read: () => [] });
      const round = portfolio.retryRound;
      const read = async (indexes: number[]): Promise<IndexedArticle[]> => {
        const urlKeys = indexes.map((index) => portfolio.urlKeys[index] ?? '');
        let stored: (ArticleRecord | null)[];
        try {
          stored = await store.getArticles(urlKeys);
        } catch (error) {
          throw storageError(error);
        }
        const articles = asSeenDuringRound(stored, urlKeys, round);
        return indexes.map((index, position) => ({ index, ...(portfolioArticleView(portfolio.urls[index] ?? '', articles[position] ?? null) as unknown as ArticleView) }));
      };
      const chunks = readAhead(chunkIndexes(portfolio.urls.length), read);
      const first = await chunks.next();
      return {
        head: { portfolioId: portfolio.portfolioId, name: portfolio.name, total: portfolio.urls.length, feeds: (portfolio.feeds ?? []).map(feedView) as unknown as FeedView[] },
        first: first.done ? [] : first.value,
        rest: { [Symbol.asyncIterator]: () => chunks },
      };
    },
  });

  const health: RouteHandler = async (_req, res) => {
    res.status(200).json({ status: 'ok' });
    return {};
  };

  return createRouter(
    [
      { path: '/', methods: { GET: web.home, POST: web.submitForm } },
      { path: '/static/:name', methods: { GET: web.asset } },
      { path: '/healthz', methods: { GET: health } },
      { path: '/portfolios', methods: { POST: submit } },
      { path: '/portfolios/:portfolioId', methods: { GET: showPortfolio } },
      { path: '/portfolios/:portfolioId/retry', methods: { POST: portfolioPages.retry } },
      { path: '/articles', methods: { GET: showArticle } },
    ],
    {
      log,
      isHttpError: (error): error is ApiError => error instanceof ApiError,
      methodNotAllowed: (method, allowed) =>
        new ApiError(405, 'method-not-allowed', `${method} is not supported here; use ${allowed.join(' or ')}.`, undefined, { Allow: allowed.join(', ') }),
      notFound: (path) => new ApiError(404, 'not-found', `Nothing is served at ${path}; see POST /portfolios, GET /portfolios/{id}, GET /articles?url=…`),
    },
  );
}
