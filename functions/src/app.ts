/**
 * Wires the three functions from their dependencies. The local stack passes emulator clients; tests
 * may also replace the fetcher, the extractor, the clock and the logger. Each function's own wiring
 * is in handlers/, so a deployed function (entry/) loads only its own.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { HttpFunction } from '@google-cloud/functions-framework';
import type { PubSub } from '@google-cloud/pubsub';
import type { Config } from './config';
import { createApiFunction } from './handlers/api';
import { createDeadLetterFunction } from './handlers/recordDeadLetter';
import { createScrapeFunction } from './handlers/scrapeArticle';
import { jsonLineLogger, type Logger } from './log';
import { publisher } from './publisher';
import type { ScrapeDeps } from './scrape';
import { requeuer } from './retry/requeue';
import { firestoreStore, type ArticleStore } from './store';

export { scrapeStatus } from './handlers/scrapeArticle';

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

/** Creates `api`, `scrapeArticle` and `recordDeadLetter` around one store and one publisher. */
export function createFunctions(deps: FunctionDeps): PipelineFunctions {
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? jsonLineLogger();
  const store: ArticleStore = firestoreStore(deps.firestore, config.collectionPrefix);
  const requeue = requeuer(() => deps.pubsub, config);
  return {
    api: createApiFunction({ config, pubsub: deps.pubsub, store, now, log }),
    scrapeArticle: createScrapeFunction({ config, store, now, log, requeue, fetchPage: deps.fetchPage, extractArticle: deps.extractArticle, publishUrls: publisher(deps.pubsub, config.topic) }),
    recordDeadLetter: createDeadLetterFunction({ config, store, now, log, requeue }),
  };
}
