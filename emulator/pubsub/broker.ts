import { status } from '@grpc/grpc-js';
import { PubSubApiError, alreadyExists, invalidArgument, notFound } from './errors';
import { parseSubscriptionName, parseTopicName } from './names';
import { PushSender, buildPushRequest } from './push';
import {
  applySubscriptionUpdate,
  deletedTopic,
  durationSeconds,
  normalizeSubscription,
  normalizeTopic,
} from './resources';
import type { PubsubMessage, ReceivedMessage, Subscription, Topic } from './types';

/**
 * Shortest wait before a nacked or expired message is offered again. The real service redelivers
 * "immediately" without a retry policy (and with a 0 s minimum backoff); a small floor keeps an endpoint
 * that fails instantly from turning the emulator into a hot loop. The official emulator waits ~1 s.
 */
export const minRedeliveryDelayMs = 100;

/** How long a unary Pull without messages waits for one before answering empty. */
const pullWaitMs = 2_000;

/** One message on one subscription, across its deliveries. */
interface Delivery {
  readonly message: PubsubMessage;
  /** Deliveries made so far (the real service's delivery_attempt of the latest one). */
  attempts: number;
  /** The ack id of the current lease; a new one per delivery so stale acks are ignored. */
  ackId: string | null;
  deadline: NodeJS.Timeout | null;
  holder: StreamConsumer | null;
  /** Aborts the push request of the current delivery. */
  abort: AbortController | null;
}

/** A StreamingPull stream as the broker sees it. */
export interface StreamConsumer {
  /** 0 = no limit. */
  maxOutstandingMessages: number;
  outstanding: number;
  ackDeadlineSeconds: number;
  deliver(messages: ReceivedMessage[]): void;
  fail(error: PubSubApiError): void;
}

interface PendingPull {
  max: number;
  resolve(messages: ReceivedMessage[]): void;
  reject(error: PubSubApiError): void;
  timer: NodeJS.Timeout;
}

interface SubscriptionState {
  resource: Subscription;
  ready: Delivery[];
  outstanding: Map<string, Delivery>;
  consumers: Set<StreamConsumer>;
  pendingPulls: PendingPull[];
  pushesInFlight: number;
  nextConsumer: number;
  pumpScheduled: boolean;
}

export interface BrokerOptions {
  /** Push requests in flight per subscription. */
  pushConcurrency: number;
}

/**
 * The in-memory state and delivery engine of the emulator: topics, subscriptions, leases, push,
 * retry backoff and dead-lettering. Every timer it starts is tracked so `close()` leaves none behind.
 */
export class Broker {
  private readonly topics = new Map<string, Topic>();
  private readonly subscriptions = new Map<string, SubscriptionState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pusher = new PushSender();
  private nextMessageId = 1;
  private nextAckId = 1;
  private closed = false;

  constructor(private readonly options: BrokerOptions) {}

  // ---- topics ----

  createTopic(input: Topic): Topic {
    const topic = normalizeTopic(input);
    if (this.topics.has(topic.name)) throw alreadyExists(`Topic already exists (resource=${topic.name}).`);
    this.topics.set(topic.name, topic);
    return topic;
  }

  getTopic(name: string): Topic {
    parseTopicName(name);
    const topic = this.topics.get(name);
    if (!topic) throw notFound(`Topic not found (resource=${name}).`);
    return topic;
  }

  listTopics(project: string): Topic[] {
    return [...this.topics.values()].filter((t) => t.name.startsWith(`projects/${project}/`)).sort(byName);
  }

  listTopicSubscriptions(topicName: string): string[] {
    this.getTopic(topicName);
    return [...this.subscriptions.values()]
      .filter((s) => s.resource.topic === topicName)
      .map((s) => s.resource.name)
      .sort();
  }

  deleteTopic(name: string): void {
    this.getTopic(name);
    this.topics.delete(name);
    // As on the real service, subscriptions outlive their topic and keep their backlog.
    for (const sub of this.subscriptions.values()) {
      if (sub.resource.topic === name) sub.resource = { ...sub.resource, topic: deletedTopic };
    }
  }

  /** Stores the messages on every subscription of the topic; returns their ids in order. */
  publish(topicName: string, messages: PubsubMessage[]): string[] {
    this.getTopic(topicName);
    if (messages.length === 0) throw invalidArgument('Publish needs at least one message.');
    if (messages.length > 1000) {
      throw invalidArgument(`A Publish request carries at most 1000 messages; this one has ${messages.length}.`);
    }
    for (const message of messages) checkMessage(message);
    const bytes = messages.reduce((sum, m) => sum + (m.data?.length ?? 0), 0);
    if (bytes > 10 * 1024 * 1024) throw invalidArgument('A Publish request carries at most 10 MB of message data.');
    return messages.map((message) => this.store(topicName, message));
  }

  private store(topicName: string, input: PubsubMessage): string {
    const messageId = String(this.nextMessageId++);
    const now = Date.now();
    const message: PubsubMessage = {
      data: input.data ?? Buffer.alloc(0),
      attributes: { ...(input.attributes ?? {}) },
      messageId,
      publishTime: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
      orderingKey: input.orderingKey ?? '',
    };
    for (const sub of this.subscriptions.values()) {
      if (sub.resource.topic !== topicName || sub.resource.detached) continue;
      sub.ready.push({ message, attempts: 0, ackId: null, deadline: null, holder: null, abort: null });
      this.schedulePump(sub);
    }
    return messageId;
  }

  // ---- subscriptions ----

  createSubscription(input: Subscription): Subscription {
    const resource = normalizeSubscription(input, (name) => this.topics.has(name));
    if (this.subscriptions.has(resource.name)) {
      throw alreadyExists(`Subscription already exists (resource=${resource.name}).`);
    }
    if (!this.topics.has(resource.topic)) throw notFound(`Topic not found (resource=${resource.topic}).`);
    this.subscriptions.set(resource.name, {
      resource,
      ready: [],
      outstanding: new Map(),
      consumers: new Set(),
      pendingPulls: [],
      pushesInFlight: 0,
      nextConsumer: 0,
      pumpScheduled: false,
    });
    return resource;
  }

  getSubscription(name: string): Subscription {
    return this.state(name).resource;
  }

  listSubscriptions(project: string): Subscription[] {
    return [...this.subscriptions.values()]
      .map((s) => s.resource)
      .filter((s) => s.name.startsWith(`projects/${project}/`))
      .sort(byName);
  }

  updateSubscription(update: Subscription, paths: string[]): Subscription {
    const sub = this.state(update.name, 'subscription.name');
    const merged = applySubscriptionUpdate(sub.resource, update, paths);
    sub.resource = normalizeSubscription(merged, (name) => this.topics.has(name), { keepTopic: true });
    // A new push endpoint, or none, changes who receives the backlog.
    this.schedulePump(sub);
    return sub.resource;
  }

  modifyPushConfig(name: string, pushConfig: Subscription['pushConfig']): void {
    this.updateSubscription({ name, topic: '', pushConfig }, ['push_config']);
  }

  deleteSubscription(name: string): void {
    const sub = this.state(name);
    this.subscriptions.delete(name);
    this.dispose(sub, notFound(`Subscription deleted (resource=${name}).`));
  }

  private state(name: string, field = 'subscription'): SubscriptionState {
    parseSubscriptionName(name, field);
    const sub = this.subscriptions.get(name);
    if (!sub) throw notFound(`Subscription does not exist (resource=${name}).`);
    return sub;
  }

  // ---- pull ----

  /**
   * Answers a unary Pull: what is ready now, else (unless `returnImmediately`) the first messages
   * to arrive within a short wait, else nothing.
   */
  pull(
    name: string,
    maxMessages: number,
    returnImmediately: boolean,
    onCancel: (cancel: () => void) => void,
  ): Promise<ReceivedMessage[]> {
    const sub = this.state(name);
    if (!(maxMessages > 0)) throw invalidArgument('Invalid max_messages: it must be greater than 0.');
    const now = this.take(sub, maxMessages, sub.resource.ackDeadlineSeconds ?? 10, null);
    if (now.length > 0 || returnImmediately) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const pending: PendingPull = {
        max: maxMessages,
        resolve,
        reject,
        timer: this.after(pullWaitMs, () => {
          sub.pendingPulls = sub.pendingPulls.filter((p) => p !== pending);
          resolve([]);
        }),
      };
      sub.pendingPulls.push(pending);
      // A caller that gave up must not be handed messages it will never see.
      onCancel(() => {
        sub.pendingPulls = sub.pendingPulls.filter((p) => p !== pending);
        this.cancel(pending.timer);
      });
    });
  }

  /** Registers a StreamingPull stream; returns a function that unregisters it. */
  attach(name: string, consumer: StreamConsumer): () => void {
    const sub = this.state(name);
    sub.consumers.add(consumer);
    this.schedulePump(sub);
    return () => {
      sub.consumers.delete(consumer);
      // Its leases stay until their deadline, as on the real service; they no longer count for it.
      for (const delivery of sub.outstanding.values()) if (delivery.holder === consumer) delivery.holder = null;
    };
  }

  acknowledge(name: string, ackIds: string[]): void {
    const sub = this.state(name);
    for (const ackId of ackIds) {
      this.release(sub, ackId);
    }
    this.schedulePump(sub);
  }

  /** Extends leases, or nacks them with 0 seconds (the client's `nack()`). */
  modifyAckDeadline(name: string, ackIds: string[], seconds: number): void {
    const sub = this.state(name);
    if (!(seconds >= 0 && seconds <= 600)) {
      throw invalidArgument(`Invalid ack_deadline_seconds: ${seconds}. It must be between 0 and 600.`);
    }
    for (const ackId of ackIds) {
      const delivery = sub.outstanding.get(ackId);
      if (!delivery) continue; // expired or already settled: ignored, as on the real service
      if (seconds === 0) {
        this.release(sub, ackId);
        this.redeliver(sub, delivery);
      } else {
        this.cancel(delivery.deadline);
        delivery.deadline = this.after(seconds * 1000, () => this.expire(sub, ackId));
      }
    }
    this.schedulePump(sub);
  }

  // ---- delivery engine ----

  private schedulePump(sub: SubscriptionState): void {
    if (sub.pumpScheduled || this.closed) return;
    sub.pumpScheduled = true;
    // Deferred so that a batch published in one RPC is delivered as one batch.
    queueMicrotask(() => {
      sub.pumpScheduled = false;
      if (!this.closed && this.subscriptions.get(sub.resource.name) === sub) this.pump(sub);
    });
  }

  private pump(sub: SubscriptionState): void {
    const endpoint = sub.resource.pushConfig?.pushEndpoint;
    if (endpoint) {
      while (sub.ready.length > 0 && sub.pushesInFlight < this.options.pushConcurrency) {
        this.push(sub, endpoint, sub.ready.shift()!);
      }
      return;
    }
    const deadline = sub.resource.ackDeadlineSeconds ?? 10;
    while (sub.ready.length > 0 && sub.pendingPulls.length > 0) {
      const pending = sub.pendingPulls.shift()!;
      this.cancel(pending.timer);
      pending.resolve(this.take(sub, pending.max, deadline, null));
    }
    // Spread the backlog over the open streams (the client opens five) within their flow control.
    const consumers = [...sub.consumers];
    for (let i = 0; i < consumers.length && sub.ready.length > 0; i++) {
      const consumer = consumers[(sub.nextConsumer + i) % consumers.length]!;
      const room =
        consumer.maxOutstandingMessages > 0 ? consumer.maxOutstandingMessages - consumer.outstanding : Infinity;
      const share = Math.ceil(sub.ready.length / (consumers.length - i));
      const count = Math.min(room, share);
      if (count <= 0) continue;
      consumer.deliver(this.take(sub, count, consumer.ackDeadlineSeconds, consumer));
    }
    sub.nextConsumer = consumers.length > 0 ? (sub.nextConsumer + 1) % consumers.length : 0;
  }

  private take(
    sub: SubscriptionState,
    max: number,
    deadlineSeconds: number,
    holder: StreamConsumer | null,
  ): ReceivedMessage[] {
    const batch = sub.ready.splice(0, max);
    return batch.map((delivery) => {
      const ackId = this.lease(sub, delivery, deadlineSeconds, holder);
      const received: ReceivedMessage = { ackId, message: delivery.message };
      if (sub.resource.deadLetterPolicy) received.deliveryAttempt = delivery.attempts;
      return received;
    });
  }

  private lease(
    sub: SubscriptionState,
    delivery: Delivery,
    deadlineSeconds: number,
    holder: StreamConsumer | null,
  ): string {
    delivery.attempts += 1;
    const ackId = `${this.nextAckId++}-${delivery.message.messageId}`;
    delivery.ackId = ackId;
    delivery.holder = holder;
    if (holder) holder.outstanding += 1;
    delivery.deadline = this.after(deadlineSeconds * 1000, () => this.expire(sub, ackId));
    sub.outstanding.set(ackId, delivery);
    return ackId;
  }

  /** Ends the lease of `ackId`, if it is still current; returns its delivery. */
  private release(sub: SubscriptionState, ackId: string): Delivery | undefined {
    const delivery = sub.outstanding.get(ackId);
    if (!delivery) return undefined;
    sub.outstanding.delete(ackId);
    this.cancel(delivery.deadline);
    delivery.deadline = null;
    delivery.ackId = null;
    if (delivery.holder) delivery.holder.outstanding -= 1;
    delivery.holder = null;
    delivery.abort = null;
    return delivery;
  }

  /** The ack deadline passed without an ack: a nack, which also ends a push still waiting for its answer. */
  private expire(sub: SubscriptionState, ackId: string): void {
    const abort = sub.outstanding.get(ackId)?.abort;
    const delivery = this.release(sub, ackId);
    if (!delivery) return;
    abort?.abort();
    this.redeliver(sub, delivery);
  }

  /** After a failed delivery: dead-letter it when attempts are used up, else offer it again after the backoff. */
  private redeliver(sub: SubscriptionState, delivery: Delivery): void {
    const policy = sub.resource.deadLetterPolicy;
    if (policy?.deadLetterTopic && delivery.attempts >= (policy.maxDeliveryAttempts ?? 5)) {
      if (this.topics.has(policy.deadLetterTopic)) {
        this.deadLetter(sub, delivery, policy.deadLetterTopic);
        return;
      }
      // The dead-letter topic was deleted: keep the message and retry it, like the real service
      // keeps it until forwarding succeeds.
    }
    this.after(this.backoffMs(sub, delivery.attempts), () => {
      if (this.subscriptions.get(sub.resource.name) !== sub) return;
      sub.ready.push(delivery);
      this.schedulePump(sub);
    });
  }

  /**
   * Exponential backoff between the retry policy's bounds: the minimum (at least the redelivery floor,
   * so a 0 s minimum still grows) doubled per failed attempt, capped at the maximum.
   */
  private backoffMs(sub: SubscriptionState, failedAttempts: number): number {
    const policy = sub.resource.retryPolicy;
    if (!policy) return minRedeliveryDelayMs;
    const minMs = Math.max(minRedeliveryDelayMs, durationSeconds(policy.minimumBackoff) * 1000);
    const maxMs = durationSeconds(policy.maximumBackoff) * 1000;
    return Math.max(minRedeliveryDelayMs, Math.min(maxMs, minMs * 2 ** Math.max(0, failedAttempts - 1)));
  }

  private deadLetter(sub: SubscriptionState, delivery: Delivery, deadLetterTopic: string): void {
    const { project, id } = parseSubscriptionName(sub.resource.name);
    const original = delivery.message;
    this.store(deadLetterTopic, {
      data: original.data,
      orderingKey: original.orderingKey,
      attributes: {
        ...original.attributes,
        CloudPubSubDeadLetterSourceDeliveryCount: String(delivery.attempts),
        CloudPubSubDeadLetterSourceSubscription: id,
        CloudPubSubDeadLetterSourceSubscriptionProject: project,
        CloudPubSubDeadLetterSourceTopicPublishTime: new Date(
          (original.publishTime?.seconds ?? 0) * 1000 + Math.floor((original.publishTime?.nanos ?? 0) / 1e6),
        ).toISOString(),
      },
    });
  }

  private push(sub: SubscriptionState, endpoint: string, delivery: Delivery): void {
    const deadlineSeconds = sub.resource.ackDeadlineSeconds ?? 10;
    const ackId = this.lease(sub, delivery, deadlineSeconds, null);
    const abort = new AbortController();
    delivery.abort = abort;
    const request = buildPushRequest(
      sub.resource,
      delivery.message,
      sub.resource.deadLetterPolicy ? delivery.attempts : undefined,
    );
    sub.pushesInFlight += 1;
    void this.pusher.send(endpoint, request, abort.signal).then((acked) => {
      sub.pushesInFlight -= 1;
      if (this.closed) return;
      // If the deadline already expired, the lease is gone and this answer no longer counts.
      const current = this.release(sub, ackId);
      if (current && !acked) this.redeliver(sub, current);
      if (this.subscriptions.get(sub.resource.name) === sub) this.schedulePump(sub);
    });
  }

  // ---- lifecycle ----

  private after(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private cancel(timer: NodeJS.Timeout | null): void {
    if (!timer) return;
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  private dispose(sub: SubscriptionState, error: PubSubApiError): void {
    for (const delivery of sub.outstanding.values()) {
      this.cancel(delivery.deadline);
      delivery.abort?.abort();
    }
    sub.outstanding.clear();
    sub.ready = [];
    for (const pending of sub.pendingPulls) {
      this.cancel(pending.timer);
      pending.reject(error);
    }
    sub.pendingPulls = [];
    for (const consumer of sub.consumers) consumer.fail(error);
    sub.consumers.clear();
  }

  /** Forgets every topic, subscription and message, as a freshly started emulator. */
  reset(): void {
    this.clear((name) => notFound(`Subscription deleted by an emulator reset (resource=${name}).`));
  }

  /**
   * Cancels pending pushes and pulls and clears every timer. Open streams end with UNAVAILABLE, which
   * the client treats as retryable, so a subscriber still open doesn't fail with an error event.
   */
  async close(): Promise<void> {
    this.clear(() => new PubSubApiError(status.UNAVAILABLE, 'The Pub/Sub emulator is shutting down.'));
    this.closed = true;
    await this.pusher.close();
  }

  private clear(error: (subscription: string) => PubSubApiError): void {
    for (const sub of this.subscriptions.values()) this.dispose(sub, error(sub.resource.name));
    this.subscriptions.clear();
    this.topics.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Rejects what the real service rejects in a Publish: empty messages and reserved or oversized attributes. */
function checkMessage(message: PubsubMessage): void {
  const attributes = Object.entries(message.attributes ?? {});
  if ((!message.data || message.data.length === 0) && attributes.length === 0) {
    throw invalidArgument('Invalid message: it must have data or at least one attribute.');
  }
  if (attributes.length > 100) {
    throw invalidArgument(`Invalid message: at most 100 attributes are allowed, it has ${attributes.length}.`);
  }
  for (const [key, value] of attributes) {
    if (key.length === 0 || Buffer.byteLength(key) > 256) {
      throw invalidArgument(`Invalid attribute key "${key}": it must be 1–256 bytes.`);
    }
    if (key.toLowerCase().startsWith('goog')) {
      throw invalidArgument(`Invalid attribute key "${key}": keys starting with "goog" are reserved.`);
    }
    if (Buffer.byteLength(value) > 1024) {
      throw invalidArgument(`Invalid value of attribute "${key}": it is longer than 1024 bytes.`);
    }
  }
}
