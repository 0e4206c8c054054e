/**
 * The web pages' routes: the form (`GET /`, `POST /` from the form, no script needed), the portfolio
 * page (`GET /portfolios/{id}` when the browser prefers HTML), Retry failed from the page, and the
 * static files. Errors a browser asked for are pages in words; the JSON API is untouched.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { ApiError } from '../apiError';
import { isWellFormed } from '../urls';
import type { RouteHandler } from '../routing';
import { assetNamed } from './assets';
import { setPageHeaders } from './headers';
import type { Html } from './html';
import { articleCards, createdPage, dateFormat, errorPage, homePage, portfolioPageParts, type ArticleView, type FormState, type PortfolioPageHead } from './pages';

/** The form's submission, as api.ts's `Submission`. */
export interface FormSubmission {
  urls: string[];
  feeds?: string[];
  name: string | null;
}

/** Dependencies (api.ts passes its own). */
export interface WebDeps {
  limits: { maxUrls: number };
  /** Reads a text/plain body (one URL per line) with the limits of POST /portfolios; throws ApiError. */
  parseText: (req: Request, text: string) => { urls: string[] };
  createPortfolio: (submission: FormSubmission, req: Request) => Promise<{ portfolioId: string; accepted: number; rejected: { url: string; message: string }[] }>;
  /**
   * Opens a portfolio for its page: the portfolio document and its first chunk of articles (throws
   * ApiError 404 / 503, before anything is sent), then the other chunks in order as they are read.
   */
  openPortfolio: (portfolioId: string) => Promise<OpenedPortfolio>;
}

/** An article of the page with its index in the portfolio. */
export type IndexedArticle = ArticleView & { index: number };

/** A portfolio being read for its page. */
export interface OpenedPortfolio {
  head: PortfolioPageHead;
  first: IndexedArticle[];
  /** The other chunks, in index order; rejects with the storage error if a read fails. */
  rest: AsyncIterable<IndexedArticle[]>;
}

/** Writes `text`, waiting while the socket's buffer is full (a slow reader holds the reads, not memory). */
async function write(res: Response, text: string): Promise<void> {
  if (res.write(text) || res.destroyed) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function sendPage(res: Response, status: number, page: Html): void {
  setPageHeaders(res);
  res.status(status).type('text/html; charset=utf-8').send(page.markup);
}

function formText(value: unknown): string {
  if (Array.isArray(value)) return value.filter((entry) => typeof entry === 'string').join('\n');
  return typeof value === 'string' ? value : '';
}

/** Answers an error a browser asked for as a page in words (with the error's headers, e.g. Retry-After). */
export function sendErrorPage(res: Response, error: ApiError): void {
  for (const [name, value] of Object.entries(error.headers)) res.set(name, value);
  sendPage(res, error.status, errorPage(error.status, error.message));
}

/** The handlers of the web pages. */
export function webRoutes(deps: WebDeps): { home: RouteHandler; submitForm: RouteHandler; portfolio: RouteHandler; asset: RouteHandler } {
  const home: RouteHandler = async (_req, res) => {
    sendPage(res, 200, homePage({}, deps.limits));
    return { page: 'home' };
  };

  const submitForm: RouteHandler = async (req, res) => {
    const form = (req.body ?? {}) as Record<string, unknown>;
    const state: FormState = { urls: formText(form.urls), feeds: formText(form.feeds), name: formText(form.name) };
    try {
      if (!req.is('application/x-www-form-urlencoded')) throw new ApiError(415, 'unsupported-media-type', 'The form must be sent as application/x-www-form-urlencoded.');
      const name = state.name?.trim() ?? '';
      if (name.length > 200 || !isWellFormed(name)) throw new ApiError(400, 'invalid-body', 'The name must be text of at most 200 characters.');
      const feeds = (state.feeds ?? '').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
      // The addresses are read as a text/plain POST /portfolios would be (same limits); feeds may come alone.
      const { urls } = feeds.length > 0 && (state.urls ?? '').trim() === '' ? { urls: [] } : deps.parseText(req, state.urls ?? '');
      const created = await deps.createPortfolio({ urls, ...(feeds.length > 0 ? { feeds } : {}), name: name === '' ? null : name }, req);
      if (created.rejected.length === 0) {
        res.redirect(303, `/portfolios/${created.portfolioId}`);
      } else {
        sendPage(res, 201, createdPage(created));
      }
      return { page: 'submit', portfolioId: created.portfolioId };
    } catch (error) {
      if (!(error instanceof ApiError) || error.code === 'internal-error') throw error;
      const rejected = Array.isArray(error.details?.rejected) ? (error.details.rejected as { url: string; message: string }[]) : [];
      for (const [name, value] of Object.entries(error.headers)) res.set(name, value);
      sendPage(res, error.status, homePage({ ...state, error: error.message, rejected }, deps.limits));
      return { page: 'submit', code: error.code };
    }
  };

  // Streamed: the head, the summary and the first cards go out at once; the other cards follow as
  // their reads arrive, so the first paint does not wait for every article of a large portfolio.
  const portfolio: RouteHandler = async (req, res) => {
    const portfolioId = String(req.params.portfolioId);
    let opened: OpenedPortfolio;
    try {
      opened = await deps.openPortfolio(portfolioId);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      sendErrorPage(res, error);
      return { page: 'portfolio', portfolioId, code: error.code };
    }
    const formatDate = dateFormat(req.acceptsLanguages());
    const parts = portfolioPageParts(opened.head);
    const counts = { queued: 0, done: 0, failed: 0 };
    const cardsOf = (articles: IndexedArticle[]): string => {
      for (const article of articles) counts[article.status] += 1;
      return articleCards(articles, formatDate).markup;
    };
    setPageHeaders(res);
    res.status(200).type('text/html; charset=utf-8');
    await write(res, parts.start.markup + cardsOf(opened.first));
    let problem: string | undefined;
    let code: string | undefined;
    try {
      for await (const chunk of opened.rest) {
        if (res.destroyed) break;
        await write(res, cardsOf(chunk));
      }
    } catch (error) {
      // The page is already on its way (200): it says what is missing; the script reads it on its first poll.
      code = error instanceof ApiError ? error.code : 'internal-error';
      problem = `Some articles could not be read just now (${error instanceof ApiError ? error.message : 'an error on our side'}); the page will try again.`;
    }
    const read = counts.queued + counts.done + counts.failed;
    res.end(parts.end({ ...counts, queued: counts.queued + (opened.head.total - read) }, problem).markup);
    return { page: 'portfolio', portfolioId, cards: read, ...(code ? { code } : {}) };
  };

  const asset: RouteHandler = async (req, res) => {
    const found = assetNamed(String(req.params.name));
    if (found === undefined) throw new ApiError(404, 'not-found', `Nothing is served at ${req.path}.`);
    res.set('Cache-Control', 'public, max-age=31536000, immutable');
    res.set('X-Content-Type-Options', 'nosniff');
    res.status(200).type(found.contentType).send(found.body);
    return {};
  };

  return { home, submitForm, portfolio, asset };
}
