/** The extraction worker thread: runs extractArticle on pages sent by extractPool.ts, one at a time. */
import { parentPort } from 'node:worker_threads';
import { extractArticle } from '../extract';
import { PageTooComplex } from './parseBudget';

/** A page to extract. */
export interface ExtractRequest {
  id: number;
  html: string;
  pageUrl: string;
}

/** The article, or why there is none. */
export type ExtractReply =
  | { id: number; ok: true; article: ReturnType<typeof extractArticle> }
  | { id: number; ok: false; tooComplex: { bound: PageTooComplex['bound']; limit: number } | null; message: string };

parentPort?.on('message', (request: ExtractRequest) => {
  let reply: ExtractReply;
  try {
    reply = { id: request.id, ok: true, article: extractArticle(request.html, request.pageUrl) };
  } catch (error) {
    reply = {
      id: request.id,
      ok: false,
      tooComplex: error instanceof PageTooComplex ? { bound: error.bound, limit: error.limit } : null,
      message: error instanceof Error ? error.message : String(error),
    };
  }
  parentPort?.postMessage(reply);
});
