import { Agent, request } from 'undici';
import type { PubsubMessage, Subscription } from './types';

/**
 * HTTP status codes the real service counts as a successful push (its push documentation lists
 * 102, 200, 201, 202 and 204). The official emulator does not treat 202 as an ack; we follow the
 * real service. 102 is informational in HTTP and never final for a fetch client; it is listed for
 * completeness.
 */
export const pushAckStatuses: ReadonlySet<number> = new Set([102, 200, 201, 202, 204]);

/** What the subscriber's endpoint receives for one delivery. */
export interface PushRequest {
  body: string | Buffer;
  headers: Record<string, string>;
}

const isoTime = (message: PubsubMessage): string =>
  new Date((message.publishTime?.seconds ?? 0) * 1000 + Math.floor((message.publishTime?.nanos ?? 0) / 1e6)).toISOString();

/**
 * Builds the push request the real service sends. Wrapped (the default): the JSON envelope
 * `{message: {data, attributes, messageId, message_id, publishTime, publish_time}, subscription,
 * deliveryAttempt}`, with `deliveryAttempt` only when a dead-letter policy is set and empty fields
 * left out as protobuf JSON does. Unwrapped (`noWrapper`): the raw data, with attributes and metadata
 * as headers when `writeMetadata` is set.
 */
export function buildPushRequest(
  subscription: Subscription,
  message: PubsubMessage,
  deliveryAttempt: number | undefined,
): PushRequest {
  const publishTime = isoTime(message);
  const noWrapper = subscription.pushConfig?.noWrapper;
  if (noWrapper) {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (noWrapper.writeMetadata) {
      Object.assign(headers, message.attributes ?? {});
      headers['x-goog-pubsub-subscription-name'] = subscription.name;
      headers['x-goog-pubsub-message-id'] = message.messageId ?? '';
      headers['x-goog-pubsub-publish-time'] = publishTime;
      if (deliveryAttempt !== undefined) headers['x-goog-pubsub-delivery-attempt'] = String(deliveryAttempt);
    }
    return { body: message.data ?? Buffer.alloc(0), headers };
  }
  const envelopeMessage: Record<string, unknown> = {};
  if (message.data && message.data.length > 0) envelopeMessage.data = message.data.toString('base64');
  if (message.attributes && Object.keys(message.attributes).length > 0) envelopeMessage.attributes = message.attributes;
  envelopeMessage.messageId = message.messageId;
  envelopeMessage.message_id = message.messageId;
  envelopeMessage.publishTime = publishTime;
  envelopeMessage.publish_time = publishTime;
  if (message.orderingKey) envelopeMessage.orderingKey = message.orderingKey;
  const envelope: Record<string, unknown> = { message: envelopeMessage, subscription: subscription.name };
  if (deliveryAttempt !== undefined) envelope.deliveryAttempt = deliveryAttempt;
  return { body: JSON.stringify(envelope), headers: { 'content-type': 'application/json' } };
}

/** Sends push requests over one connection pool that `close()` tears down, aborting what is in flight. */
export class PushSender {
  private readonly agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 4_000 });

  /** POSTs the request; resolves true when the endpoint acked, false on any other outcome. */
  async send(endpoint: string, push: PushRequest, signal: AbortSignal): Promise<boolean> {
    try {
      const response = await request(endpoint, {
        method: 'POST',
        headers: push.headers,
        body: push.body,
        signal,
        dispatcher: this.agent,
      });
      await response.body.dump();
      return pushAckStatuses.has(response.statusCode);
    } catch {
      // A refused connection, a reset or an abort at the ack deadline is a nack, as on the real service.
      return false;
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
