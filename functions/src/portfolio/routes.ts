/** Route handlers about one existing portfolio beyond its status view: retry what failed, export it. */
import type { Request, Response } from '@google-cloud/functions-framework';
import { ApiError, storageError } from '../apiError';
import { prefersHtml, type RouteHandler } from '../routing';
import type { UrlMessage } from '../scrape';
import type { ArticleRecord, ArticleStore, PortfolioRecord } from '../store';
import { exportFileName, portfolioCsv } from './export';
import { nextRound, planRetry } from './retry';
import { requeueFailedFeeds, restoreFeeds } from './retryFeeds';
import type { FeedMessage } from '../feeds/message';

/** A portfolio read for an answer: the record and its articles (as the current retry round shows them). */
export interface LoadedPortfolio {
  portfolio: PortfolioRecord;
  /** Indexes (into `portfolio.urls`) of the articles read, in order. */
  indexes: number[];
  /** The article of each entry of `indexes` (null where the scraper has not written one yet). */
  articles: (ArticleRecord | null)[];
}

/** Dependencies of {@link portfolioRoutes} (api.ts passes its own). */
export interface PortfolioRouteDeps {
  store: ArticleStore;
  publishUrls: (messages: UrlMessage[]) => Promise<PromiseSettledResult<string>[]>;
  now: () => Date;
  /** Reads the portfolio and its articles; throws ApiError 404 / 503. `raw` skips the retry-round view. */
  loadPortfolio: (portfolioId: string, options?: { raw?: boolean }) => Promise<LoadedPortfolio>;
  /** The status view of GET /portfolios/{id}. */
  portfolioView: (portfolio: PortfolioRecord, articles: (ArticleRecord | null)[]) => Record<string, unknown>;
  /** The URL of the portfolio's status view, as the API names it. */
  statusUrl: (req: Request, portfolioId: string) => string;
  /** Answers an error as a page in words (for a browser's form, which should not land on JSON). */
  sendErrorPage: (res: Response, error: ApiError) => void;
}

/** The 202 answer to POST /portfolios/{id}/retry. */
export interface RetryResponse {
  portfolioId: string;
  /** Failed articles queued again by this request. */
  queued: number;
  /** Failed articles an earlier retry already queued that have not been picked up yet (not queued again). */
  alreadyQueued: number;
  /** Failed feeds queued again by this request (a feed queued by an earlier retry is no longer failed). */
  feedsQueued: number;
  statusUrl: string;
}

/** The handlers: `retry` for POST /portfolios/{id}/retry, `exportAs` for GET /portfolios/{id}.csv|.json. */
export function portfolioRoutes(deps: PortfolioRouteDeps): { retry: RouteHandler; exportAs: (format: 'csv' | 'json') => (portfolioId: string, res: Response) => Promise<Record<string, unknown>> } {
  // The page's form without script sends a browser here: its errors are pages too, its success a 303.
  const retry: RouteHandler = async (req, res) => {
    try {
      return await retryFailed(req, res);
    } catch (error) {
      if (!(error instanceof ApiError) || !prefersHtml(req)) throw error;
      deps.sendErrorPage(res, error);
      return { portfolioId: String(req.params.portfolioId), code: error.code };
    }
  };

  const retryFailed: RouteHandler = async (req, res) => {
    const portfolioId = String(req.params.portfolioId);
    // The stored state, not the view: an article the last round queued still reads `failed` here.
    const { portfolio, articles } = await deps.loadPortfolio(portfolioId, { raw: true });
    const plan = planRetry(portfolio.urlKeys, articles, portfolio.retryRound);
    const requestedAt = deps.now();
    const messages: UrlMessage[] = plan.queue.map((index) => {
      const canonicalUrl = portfolio.urls[index] ?? '';
      return { url: articles[index]?.url || canonicalUrl, canonicalUrl, urlKey: portfolio.urlKeys[index] ?? '', portfolioId };
    });
    const results = messages.length === 0 ? [] : await deps.publishUrls(messages);
    const queuedKeys = messages.filter((_message, index) => results[index]?.status === 'fulfilled').map((message) => message.urlKey);
    if (messages.length > 0) {
      // Recorded after the publishes, so the round never names a message that was not sent. A
      // delivery that beats this write fails again later than requestedAt and so counts as done.
      const stillInFlight = plan.inFlight.map((index) => portfolio.urlKeys[index] ?? '');
      try {
        await deps.store.setRetryRound(portfolioId, nextRound(queuedKeys, stillInFlight, requestedAt));
      } catch (error) {
        throw storageError(error);
      }
    }
    const statusUrl = deps.statusUrl(req, portfolioId);
    // Read with the portfolio above: only a portfolio with a failed feed costs the feed update.
    const feedsQueued = portfolio.feeds?.some((feed) => feed.status === 'failed') ? await retryFeeds(portfolioId, statusUrl) : 0;
    if (queuedKeys.length < messages.length) {
      throw new ApiError(
        503,
        'publish-failed',
        `${messages.length - queuedKeys.length} of ${messages.length} failed articles could not be queued again; retry again later. The others were queued.`,
        { portfolioId, statusUrl, queued: queuedKeys.length, notQueued: messages.filter((message) => !queuedKeys.includes(message.urlKey)).map((message) => message.canonicalUrl) },
        { 'Retry-After': '5' },
      );
    }
    const body: RetryResponse = { portfolioId, queued: queuedKeys.length, alreadyQueued: plan.inFlight.length, feedsQueued, statusUrl };
    // The page's Retry failed button works without its script too: the browser is sent back to the page.
    if (prefersHtml(req)) res.redirect(303, `/portfolios/${portfolioId}`);
    else res.status(202).json(body);
    return { portfolioId, queued: body.queued, alreadyQueued: body.alreadyQueued, feedsQueued };
  };

  /** Queues the portfolio's failed feeds again (one feed message for them all); how many. Throws ApiError. */
  async function retryFeeds(portfolioId: string, statusUrl: string): Promise<number> {
    let requeued;
    try {
      const now = deps.now();
      requeued = await deps.store.updatePortfolio(portfolioId, (current) => requeueFailedFeeds(current, now));
    } catch (error) {
      throw storageError(error);
    }
    const first = requeued[0];
    if (first === undefined) return 0;
    const message: FeedMessage = { url: first.url, canonicalUrl: first.canonicalUrl, urlKey: first.urlKey, portfolioId, kind: 'feed' };
    const [result] = await deps.publishUrls([message]);
    if (result?.status === 'fulfilled') return requeued.length;
    // Not sent: the feeds are failed again as they were, so nothing waits for a message that is not coming.
    await deps.store.updatePortfolio(portfolioId, (current) => restoreFeeds(current, requeued)).catch(() => undefined);
    throw new ApiError(503, 'publish-failed', `The ${requeued.length === 1 ? 'failed feed' : `${requeued.length} failed feeds`} could not be queued again; retry again later.`, { portfolioId, statusUrl, notQueued: requeued.map((feed) => feed.url) }, { 'Retry-After': '5' });
  }

  const exportAs = (format: 'csv' | 'json') => async (portfolioId: string, res: Response) => {
    const { portfolio, articles } = await deps.loadPortfolio(portfolioId);
    const view = deps.portfolioView(portfolio, articles);
    res.set('Content-Disposition', `attachment; filename="${exportFileName(portfolioId, portfolio.name, format)}"`);
    res.set('Cache-Control', 'no-store');
    if (format === 'csv') {
      res.status(200).type('text/csv; charset=utf-8').send(portfolioCsv(view.articles as Record<string, unknown>[]));
    } else {
      res.status(200).type('application/json; charset=utf-8').send(`${JSON.stringify(view, null, 2)}\n`);
    }
    return { portfolioId, format };
  };

  return { retry, exportAs };
}
