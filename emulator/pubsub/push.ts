import { Agent } from 'undici';
import { Http1Pool, plainHeaders } from './http1';
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

/** Where a push endpoint URL goes, parsed once per endpoint. */
interface Target {
  /** Plain http: sent by {@link Http1Pool}, https by undici. */
  plain: boolean;
  origin: string;
  hostname: string;
  port: number;
  /** The Host header: host and port as in the URL. */
  host: string;
  path: string;
}

/** Stops a push in flight (its answer then counts as a nack). */
export type CancelPush = () => void;

/**
 * One push as undici's low-level dispatch sees it. Dispatching with a plain handler rather than
 * `request()` saves what a push never needs: the response body stream, the promise, and an
 * AbortController per push (measured: about a quarter of the emulator's CPU in a 500-message burst).
 */
class PushHandler {
  private status = 0;
  private abort: ((error?: Error) => void) | null = null;
  private cancelled = false;
  private settled = false;
  /** True while undici's dispatch runs: an error it reports synchronously is settled a tick later. */
  dispatching = false;

  constructor(private readonly done: (acked: boolean) => void) {}

  cancel(): void {
    this.cancelled = true;
    this.abort?.();
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abort = abort;
    if (this.cancelled) abort();
  }

  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.settle(pushAckStatuses.has(this.status));
  }

  onError(): void {
    // A refused connection, a reset or an abort at the ack deadline is a nack, as on the real service.
    this.settle(false);
  }

  private settle(acked: boolean): void {
    if (this.settled) return;
    this.settled = true;
    if (this.dispatching) queueMicrotask(() => this.done(acked));
    else this.done(acked);
  }
}

/** Sends push requests over one connection pool that `close()` tears down, ending what is in flight. */
export class PushSender {
  private readonly agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 4_000 });
  private readonly http1 = new Http1Pool(4_000);
  private readonly targets = new Map<string, Target | null>();

  /**
   * POSTs the request; `done` is called once, with true when the endpoint acked and false on any
   * other outcome. Returns what stops the push early (the ack deadline, a seek).
   */
  send(endpoint: string, push: PushRequest, done: (acked: boolean) => void): CancelPush {
    // The answer to a cancelled push arrives a microtask later, never inside the caller's cancel():
    // the broker cancels while it clears a backlog and must not see the nack before it has finished.
    let cancelling = false;
    const answer = (acked: boolean): void => {
      if (cancelling) queueMicrotask(() => done(acked));
      else done(acked);
    };
    const cancel = this.start(endpoint, push, answer);
    return () => {
      cancelling = true;
      try {
        cancel();
      } finally {
        cancelling = false;
      }
    };
  }

  private start(endpoint: string, push: PushRequest, done: (acked: boolean) => void): CancelPush {
    const target = this.target(endpoint);
    if (target?.plain && plainHeaders(push.headers)) {
      return this.http1.post(target.hostname, target.port, target.host, target.path, push.headers, push.body, (status) =>
        done(pushAckStatuses.has(status)),
      );
    }
    const handler = new PushHandler(done);
    if (!target) {
      queueMicrotask(() => handler.onError());
      return () => {};
    }
    handler.dispatching = true;
    try {
      this.agent.dispatch(
        { origin: target.origin, path: target.path, method: 'POST', headers: push.headers, body: push.body },
        handler,
      );
    } finally {
      handler.dispatching = false;
    }
    return () => handler.cancel();
  }

  private target(endpoint: string): Target | null {
    let target = this.targets.get(endpoint);
    if (target === undefined) {
      try {
        const url = new URL(endpoint);
        const plain = url.protocol === 'http:' && !url.username && !url.password;
        target = {
          plain,
          origin: url.origin,
          // The URL keeps an IPv6 address in brackets; a socket wants it bare.
          hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
          host: url.host,
          path: `${url.pathname}${url.search}`,
        };
      } catch {
        // Not a URL: every push to it fails, as an unreachable endpoint does.
        target = null;
      }
      // A handful of endpoints in practice; bounded anyway, so a long-lived emulator cannot grow it.
      if (this.targets.size >= 1000) this.targets.clear();
      this.targets.set(endpoint, target);
    }
    return target;
  }

  async close(): Promise<void> {
    this.http1.close();
    await this.agent.destroy();
  }
}
