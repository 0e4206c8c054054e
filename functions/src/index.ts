/**
 * Entry point for functions-framework (`--target=api | scrapeArticle | recordDeadLetter`) registering
 * all three, as the local stack's function processes run them. Deployed functions load their own
 * entry instead (entry/<function>.ts, bundled by build/bundle.ts), which loads only what that
 * function uses. The clients made here serve every request of the instance.
 *
 * They are made when the module loads, not inside the first request: functions-framework runs each
 * HTTP request inside a `domain`, and sockets and timers a client opens there stay bound to that
 * first request's domain for the life of the instance (measured: slightly more CPU per delivery on
 * the scraper). Neither client connects before its first call, so loading stays cheap; a bad
 * setting fails the instance at start, naming the variable, instead of failing every request.
 */
import { Firestore } from '@google-cloud/firestore';
import * as functions from '@google-cloud/functions-framework';
import { PubSub } from '@google-cloud/pubsub';
import { createFunctions } from './app';
import { parseConfig } from './config';
import { guardCompressedBodies } from './http/compressedBodies';

const config = parseConfig(process.env);
// This process serves one function: keep compressed bodies of all its requests from the framework's parsers.
guardCompressedBodies();
const pipeline = createFunctions({
  config,
  // The client libraries pick up PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST themselves.
  pubsub: new PubSub({ projectId: config.projectId }),
  firestore: new Firestore({ projectId: config.projectId, ignoreUndefinedProperties: true }),
});

functions.http('api', pipeline.api);
functions.http('scrapeArticle', pipeline.scrapeArticle);
functions.http('recordDeadLetter', pipeline.recordDeadLetter);
