/**
 * The api function's routes on express's Router: which handler serves which path and method, the
 * JSON error contract (`{"error": {"code", "message", "details"?}}`, 404 for unknown paths, 405 with
 * `Allow` for a known path asked with another method) and one log line per request.
 *
 * functions-framework hands the function express's own request and response, so the router runs on
 * them directly; bodies are already parsed by the framework (see api.ts).
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import express from 'express';
import type { NextFunction, Request as ExpressRequest } from 'express';
import type { Logger } from './log';

/** A route handler: answers the request and returns the fields to log with it. Throws {@link HttpError} to answer an error. */
export type RouteHandler = (req: Request, res: Response) => Promise<Record<string, unknown>>;

/** Methods a route may answer; HEAD is served by GET. */
export type RouteMethod = 'GET' | 'POST';

/** One path of the API and its handler per method. */
export interface Route {
  /** An express path, e.g. `/portfolios/:portfolioId/retry`. */
  path: string;
  methods: Partial<Record<RouteMethod, RouteHandler>>;
}

/** What the router needs to know about an error it answers (api.ts's ApiError has this shape). */
export interface HttpError {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
  headers: Record<string, string>;
}

/** Options of {@link createRouter}. */
export interface RouterOptions {
  log: Logger;
  /** Recognises an error meant for the client; anything else is answered 500 `internal-error` and logged. */
  isHttpError: (error: unknown) => error is HttpError;
  /** The error for a path nothing serves. */
  notFound: (path: string) => HttpError;
  /** The error for a known path asked with a method it does not answer (405, with `Allow`). */
  methodNotAllowed: (method: string, allowed: RouteMethod[]) => HttpError;
  /**
   * Answers an error; by default as JSON. The web pages pass their own, so a browser asking for a
   * page gets an HTML page in words; the JSON API always answers JSON.
   */
  sendError?: (req: Request, res: Response, error: HttpError) => void;
}

/** Writes the JSON error body of the API's contract. */
export function sendJsonError(res: Response, error: HttpError): void {
  for (const [name, value] of Object.entries(error.headers)) res.set(name, value);
  res.status(error.status).json({ error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } });
}

const INTERNAL: HttpError = { status: 500, code: 'internal-error', message: 'Something went wrong on our side; the request was not completed.', headers: {} };

/**
 * Builds the api function from its routes. Paths are case-sensitive; one trailing slash is ignored
 * (as before the router: `/portfolios/` is `/portfolios`).
 */
export function createRouter(routes: Route[], options: RouterOptions): (req: Request, res: Response) => Promise<void> {
  const { log } = options;
  const router = express.Router({ caseSensitive: true, strict: false });
  const sendError = options.sendError ?? ((_req: Request, res: Response, error: HttpError) => sendJsonError(res, error));

  const finish = (req: Request, res: Response, started: number, fields: Record<string, unknown>): void => {
    const severity = res.statusCode >= 500 ? 'ERROR' : res.statusCode >= 400 ? 'WARNING' : 'INFO';
    log({ severity, message: `${req.method} ${req.path} ${res.statusCode}`, outcome: String(res.statusCode), durationMs: Date.now() - started, ...fields });
  };

  const answerError = (req: Request, res: Response, thrown: unknown): Record<string, unknown> => {
    const error = options.isHttpError(thrown) ? thrown : INTERNAL;
    if (!options.isHttpError(thrown) || error.status >= 500) {
      log({ severity: 'ERROR', message: `${req.method} ${req.path} failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`, code: error.code });
    }
    if (!res.headersSent) sendError(req, res, error);
    return { code: error.code };
  };

  const run =
    (handler: RouteHandler) =>
    async (req: ExpressRequest, res: Response): Promise<void> => {
      const started = Date.now();
      let fields: Record<string, unknown>;
      try {
        fields = await handler(req as Request, res);
      } catch (thrown) {
        fields = answerError(req, res, thrown);
      }
      finish(req, res, started, fields);
    };

  for (const route of routes) {
    const chain = router.route(route.path);
    const allowed = Object.keys(route.methods) as RouteMethod[];
    for (const method of allowed) {
      const handler = route.methods[method];
      if (handler === undefined) continue;
      if (method === 'GET') chain.get(run(handler));
      else chain.post(run(handler));
    }
    chain.all(
      run(async (req) => {
        throw options.methodNotAllowed(req.method, allowed);
      }),
    );
  }
  router.use(
    run(async (req) => {
      throw options.notFound(req.path);
    }),
  );

  return (req, res) =>
    new Promise<void>((resolve) => {
      // Only errors express raises itself reach here (a path segment that is not valid percent-encoding).
      const done = (error?: unknown): void => {
        if (error !== undefined) {
          const status = (error as { status?: unknown }).status;
          const fields = answerError(req, res, status === 400 ? options.notFound(req.path) : error);
          finish(req, res, Date.now(), fields);
        }
        resolve();
      };
      res.once('finish', () => resolve());
      res.once('close', () => resolve());
      router(req, res, done as NextFunction);
    });
}

/** Whether the request prefers an HTML page to JSON (a browser's Accept); curl's `*\/*` gets JSON. */
export function prefersHtml(req: Request): boolean {
  return req.accepts(['application/json', 'text/html']) === 'text/html';
}
