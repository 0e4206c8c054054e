/**
 * The feed message: one per portfolio with feeds (named after its first feed; the expander reads
 * the portfolio's list), on the same topic as the article URLs, so it gets the same retry backoff
 * and dead-letter handling, and no two deliveries rewrite one portfolio's feeds at once. A `kind=feed` attribute tells the scraper and the
 * dead-letter recorder to hand it to the feed expander instead of the article scraper.
 */
import type { UrlMessage } from '../scrape';

/** Attribute and value that mark a feed message. */
export const FEED_ATTRIBUTE = { name: 'kind', value: 'feed' } as const;

/** The payload of a feed message (JSON in the message data), an article message's fields plus `kind`. */
export interface FeedMessage extends UrlMessage {
  kind: 'feed';
}

/**
 * True for a push envelope whose message is a feed message, read from its attributes only. Pub/Sub
 * pushes JSON, which functions-framework has parsed; a body in any other form is left to the article
 * path, which reports it malformed.
 */
export function isFeedPush(body: unknown): boolean {
  const attributes = (body as { message?: { attributes?: Record<string, unknown> } } | null)?.message?.attributes;
  return attributes?.[FEED_ATTRIBUTE.name] === FEED_ATTRIBUTE.value;
}

/** True for a message to publish that is a feed message. */
export function isFeedMessage(message: UrlMessage): message is FeedMessage {
  return (message as Partial<FeedMessage>).kind === 'feed';
}
