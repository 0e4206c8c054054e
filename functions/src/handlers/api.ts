/** The `api` function's wiring: the HTTP API around a store and a Pub/Sub publisher. */
import type { HttpFunction } from '@google-cloud/functions-framework';
import type { PubSub } from '@google-cloud/pubsub';
import { createApi, type PublishUrls } from '../api';
import type { Config } from '../config';
import { literalHostBlockReason } from '../fetch/guard';
import type { Logger } from '../log';
import type { UrlMessage } from '../scrape';
import type { ArticleStore } from '../store';
import { messageAttributes } from '../topology';

// Publisher batching: the API publishes up to 1,000 messages per request and flushes at once, so
// the delay only matters for requests arriving together; 100 messages per Publish call keeps each
// call small while 1,000 URLs take 10 calls in parallel.
const PUBLISH_BATCHING = { maxMessages: 100, maxMilliseconds: 5 };

function publisher(pubsub: PubSub, topicName: string): PublishUrls {
  const topic = pubsub.topic(topicName, { batching: PUBLISH_BATCHING });
  return async (messages: UrlMessage[]) => {
    const sends = messages.map((message) =>
      topic.publishMessage({
        data: Buffer.from(JSON.stringify(message)),
        attributes: { [messageAttributes.portfolioId]: message.portfolioId, [messageAttributes.urlKey]: message.urlKey },
      }),
    );
    // Send the last partial batch now rather than after maxMilliseconds.
    topic.flush().catch(() => undefined);
    return Promise.allSettled(sends);
  };
}

/** `api`: accepts URLs and publishes one message per URL. */
export function createApiFunction(deps: { config: Config; pubsub: PubSub; store: ArticleStore; now: () => Date; log: Logger }): HttpFunction {
  const { config } = deps;
  return createApi({
    config,
    store: deps.store,
    publishUrls: publisher(deps.pubsub, config.topic),
    // The local stack scrapes loopback sites; there literal private hosts must be accepted too.
    blockReason: config.fetch.allowPrivateNetworks ? () => null : literalHostBlockReason,
    now: deps.now,
    log: deps.log,
  });
}
