/** The `api` function's wiring: the HTTP API around a store and a Pub/Sub publisher. */
import type { HttpFunction } from '@google-cloud/functions-framework';
import type { PubSub } from '@google-cloud/pubsub';
import { createApi } from '../api';
import type { Config } from '../config';
import { literalHostBlockReason } from '../fetch/guard';
import { logRefusal, refusingCompressedBodies } from '../http/compressedBodies';
import type { Logger } from '../log';
import { publisher } from '../publisher';
import type { ArticleStore } from '../store';

/** `api`: accepts URLs and publishes one message per URL. */
export function createApiFunction(deps: { config: Config; pubsub: PubSub; store: ArticleStore; now: () => Date; log: Logger }): HttpFunction {
  const { config } = deps;
  // A compressed body never reaches the framework's inflating parsers (see http/compressedBodies.ts).
  return refusingCompressedBodies(createApi({
    config,
    store: deps.store,
    publishUrls: publisher(deps.pubsub, config.topic),
    // The local stack scrapes loopback sites; there literal private hosts must be accepted too.
    blockReason: config.fetch.allowPrivateNetworks ? () => null : literalHostBlockReason,
    // Refused at submission rather than failing later; the local-development switch lifts it, as in the fetcher.
    allowedPorts: config.fetch.allowPrivateNetworks ? undefined : config.fetch.allowedPorts,
    now: deps.now,
    log: deps.log,
  }), logRefusal(deps.log, 'api'));
}
