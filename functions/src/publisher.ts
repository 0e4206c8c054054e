/**
 * Publishes article (and feed) messages to the article topic: the API for a submission, the scraper
 * for the articles a feed yields. A feed message carries the `kind=feed` attribute (feeds/message.ts).
 */
import type { PubSub } from '@google-cloud/pubsub';
import type { PublishUrls } from './api';
import { FEED_ATTRIBUTE, isFeedMessage } from './feeds/message';
import type { UrlMessage } from './scrape';
import { messageAttributes } from './topology';

// Publisher batching: the API publishes up to 1,000 messages per request and flushes at once, so
// the delay only matters for requests arriving together; 100 messages per Publish call keeps each
// call small while 1,000 URLs take 10 calls in parallel.
const PUBLISH_BATCHING = { maxMessages: 100, maxMilliseconds: 5 };

/** Publishes each message and settles each (fulfilled with the message id, or rejected). */
export function publisher(pubsub: PubSub, topicName: string): PublishUrls {
  const topic = pubsub.topic(topicName, { batching: PUBLISH_BATCHING });
  return async (messages: UrlMessage[]) => {
    const sends = messages.map((message) =>
      topic.publishMessage({
        data: Buffer.from(JSON.stringify(message)),
        attributes: {
          [messageAttributes.portfolioId]: message.portfolioId,
          [messageAttributes.urlKey]: message.urlKey,
          ...(isFeedMessage(message) ? { [FEED_ATTRIBUTE.name]: FEED_ATTRIBUTE.value } : {}),
        },
      }),
    );
    // Send the last partial batch now rather than after maxMilliseconds.
    topic.flush().catch(() => undefined);
    return Promise.allSettled(sends);
  };
}

/**
 * A publisher whose Pub/Sub client is made on first use: the scraper publishes only for feeds, and
 * loading the client costs its cold start about a third of a second.
 */
export function lazyPublisher(projectId: string, topicName: string): PublishUrls {
  let made: Promise<PublishUrls> | undefined;
  return async (messages) => {
    made ??= import('@google-cloud/pubsub').then(({ PubSub }) => publisher(new PubSub({ projectId }), topicName));
    return (await made)(messages);
  };
}
