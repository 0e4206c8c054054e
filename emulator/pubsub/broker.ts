import { status } from '@grpc/grpc-js';
import { PubSubApiError, alreadyExists, failedPrecondition, invalidArgument, notFound } from './errors';
import { parseFilter, type MessageFilter } from './filter';
import { parseSnapshotName, parseSubscriptionName, parseTopicName } from './names';
import { OrderedKeys } from './ordering';
import { PushFlow, type PushFlowOptions } from './flow-control';
import type { PushSigner } from './oidc';
import { PushSender, buildPushRequest, type CancelPush } from './push';
import {
  applySubscriptionUpdate,
  applyTopicUpdate,
  deletedTopic,
  durationSeconds,
  limits,
  normalizeSubscription,
  normalizeTopic,
} from './resources';
import {
  TopicLog,
  snapshotLifetimeMs,
  timestampMs,
  toTimestamp,
  type RetainedMessage,
  type SnapshotRecord,
} from './retention';
import type { SchemaRegistry } from './schemas';
import type { PubsubMessage, ReceivedMessage, Snapshot, Subscription, Timestamp, Topic } from './types';

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
  /** Publish order (the numeric message id). */
  readonly seq: number;
  readonly publishedMs: number;
  /** Deliveries made so far (the real service's delivery_attempt of the latest one). */
  attempts: number;
  /** The ack id of the current lease; a new one per delivery so stale acks are ignored. */
  ackId: string | null;
  deadline: NodeJS.Timeout | null;
  holder: StreamConsumer | null;
  /** Stops the push request of the current delivery. */
  abort: CancelPush | null;
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

/** Lease holders standing for every unary Pull and for push (streams hold keys themselves). */
const unaryPull = {};
const pushHolder = {};

interface SubscriptionState {
  resource: Subscription;
  /** Parsed once at create; non-matching messages are acknowledged on arrival. */
  filter: MessageFilter;
  /** Publish order of the first message the subscription received. */
  firstSeq: number;
  /** Every message not acknowledged yet (ready, leased, waiting out a backoff, or held behind its key). */
  unacked: Map<number, Delivery>;
  /** Deliverable now: messages without an ordering key (or of a subscription without ordering). */
  ready: Delivery[];
  /** Messages with an ordering key, on a subscription with message ordering. */
  keys: OrderedKeys<Delivery>;
  outstanding: Map<string, Delivery>;
  /** Bumped by a seek, so backoffs started before it are dropped. */
  generation: number;
  consumers: Set<StreamConsumer>;
  pendingPulls: PendingPull[];
  pushesInFlight: number;
  nextConsumer: number;
  pumpScheduled: boolean;
  /** Push window and push backoff (flow-control.ts); null when the model is off. */
  flow: PushFlow | null;
  /** Wakes the pump when a push backoff ends. */
  flowWake: NodeJS.Timeout | null;
  /** Push counters since the subscription was created (see {@link Broker.pushStats}). */
  pushCounts: { pushes: number; acks: number; nacks: number; backoffs: number };
}

/** Pushes of one push subscription so far, and its flow control now (for benchmarks and tests). */
export interface PushStats {
  subscription: string;
  pushes: number;
  acks: number;
  nacks: number;
  /** Push backoffs started (flow control on). */
  backoffs: number;
  /** The push window now; null when flow control is off. */
  window: number | null;
  /** Milliseconds of push backoff left now (0 when none). */
  backoffRemainingMs: number;
  /** Messages not acknowledged yet (ready, in flight, or waiting out a retry backoff). */
  unacked: number;
}

export interface BrokerOptions {
  /** Push requests in flight per subscription. */
  pushConcurrency: number;
  /** Schemas that topics validate published messages against. */
  schemas: SchemaRegistry;
  /** The real service's push flow control (flow-control.ts); off when absent. */
  pushFlow?: PushFlowOptions;
  /** Signs pushes of subscriptions that have an oidcToken; unsigned when absent. */
  signer?: PushSigner;
}

/**
 * The in-memory state and delivery engine of the emulator: topics, subscriptions, leases, push,
 * retry backoff and dead-lettering. Every timer it starts is tracked so `close()` leaves none behind.
 */
export class Broker {
  private readonly topics = new Map<string, Topic>();
  private readonly subscriptions = new Map<string, SubscriptionState>();
  private readonly logs = new Map<string, TopicLog>();
  private readonly snapshots = new Map<string, SnapshotRecord>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pusher = new PushSender();
  private nextMessageId = 1;
  private nextAckId = 1;
  private closed = false;

  constructor(private readonly options: BrokerOptions) {}

  // ---- topics ----

  createTopic(input: Topic): Topic {
    const topic = normalizeTopic(input);
    if (topic.schemaSettings) topic.schemaSettings = this.options.schemas.checkSettings(topic.schemaSettings);
    if (this.topics.has(topic.name)) throw alreadyExists(`Topic already exists (resource=${topic.name}).`);
    this.topics.set(topic.name, topic);
    this.logs.set(topic.name, new TopicLog());
    return topic;
  }

  updateTopic(update: Topic, paths: string[]): Topic {
    const current = this.getTopic(update.name);
    const next = normalizeTopic(applyTopicUpdate(current, update, paths));
    if (next.schemaSettings) next.schemaSettings = this.options.schemas.checkSettings(next.schemaSettings);
    this.topics.set(next.name, next);
    return next;
  }

  getTopic(name: string): Topic {
    parseTopicName(name);
    const topic = this.topics.get(name);
    if (!topic) throw notFound(`Topic not found (resource=${name}).`);
    return this.options.schemas.showSettings(topic);
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

  listTopicSnapshots(topicName: string): string[] {
    this.getTopic(topicName);
    return this.liveSnapshots()
      .filter((s) => s.topic === topicName)
      .map((s) => s.name)
      .sort();
  }

  deleteTopic(name: string): void {
    this.getTopic(name);
    this.topics.delete(name);
    this.logs.delete(name);
    // As on the real service, subscriptions outlive their topic and keep their backlog.
    for (const sub of this.subscriptions.values()) {
      if (sub.resource.topic === name) sub.resource = { ...sub.resource, topic: deletedTopic };
    }
  }

  /** Stores the messages on every subscription of the topic; returns their ids in order. */
  publish(topicName: string, messages: PubsubMessage[]): string[] {
    const topic = this.getTopic(topicName);
    if (messages.length === 0) throw invalidArgument('Publish needs at least one message.');
    if (messages.length > 1000) {
      throw invalidArgument(`A Publish request carries at most 1000 messages; this one has ${messages.length}.`);
    }
    for (const message of messages) checkMessage(message);
    const bytes = messages.reduce((sum, m) => sum + (m.data?.length ?? 0), 0);
    if (bytes > 10 * 1024 * 1024) throw invalidArgument('A Publish request carries at most 10 MB of message data.');
    // All or nothing: a message failing its topic's schema fails the whole request, as on the real service.
    const schemaAttributes = topic.schemaSettings
      ? messages.map((message) => this.options.schemas.validatePublished(topic.schemaSettings!, message))
      : null;
    // One retention answer per request: it depends on the topic's subscriptions, not on the message.
    const keepMs = this.retentionMs(topicName, Date.now());
    return messages.map((message, i) =>
      this.store(
        topicName,
        schemaAttributes ? { ...message, attributes: { ...message.attributes, ...schemaAttributes[i] } } : message,
        keepMs,
      ),
    );
  }

  private store(topicName: string, input: PubsubMessage, keepMs = this.retentionMs(topicName, Date.now())): string {
    const seq = this.nextMessageId++;
    const messageId = String(seq);
    const now = Date.now();
    const message: PubsubMessage = {
      data: input.data ?? Buffer.alloc(0),
      attributes: { ...(input.attributes ?? {}) },
      messageId,
      publishTime: toTimestamp(now),
      orderingKey: input.orderingKey ?? '',
    };
    const entry: RetainedMessage = { message, seq, publishedMs: now };
    for (const sub of this.subscriptions.values()) {
      if (sub.resource.topic !== topicName || sub.resource.detached) continue;
      // A message the filter rejects is acknowledged on arrival: never delivered, never dead-lettered.
      if (!sub.filter(message.attributes!)) continue;
      this.enqueue(sub, entry);
    }
    this.logs.get(topicName)?.append(entry, keepMs);
    return messageId;
  }

  /**
   * How long the topic must keep a message after delivery: its own retention, that of a subscription
   * retaining acked messages, and a live snapshot's lifetime; the longest wins (0 = not at all).
   */
  private retentionMs(topicName: string, now: number): number {
    const topic = this.topics.get(topicName);
    let keep = topic?.messageRetentionDuration ? durationSeconds(topic.messageRetentionDuration) * 1000 : 0;
    for (const sub of this.subscriptions.values()) {
      if (sub.resource.topic !== topicName || !sub.resource.retainAckedMessages) continue;
      keep = Math.max(keep, durationSeconds(sub.resource.messageRetentionDuration) * 1000);
    }
    for (const snapshot of this.snapshots.values()) {
      if (snapshot.topic === topicName && snapshot.expireMs > now) keep = Math.max(keep, snapshotLifetimeMs);
    }
    return keep;
  }

  /** Adds a message to a subscription's backlog, behind its ordering key when the subscription orders. */
  private enqueue(sub: SubscriptionState, entry: RetainedMessage): void {
    const delivery: Delivery = {
      message: entry.message,
      seq: entry.seq,
      publishedMs: entry.publishedMs,
      attempts: 0,
      ackId: null,
      deadline: null,
      holder: null,
      abort: null,
    };
    sub.unacked.set(entry.seq, delivery);
    const key = orderingKeyOf(sub, delivery);
    if (key) sub.keys.enqueue(key, delivery);
    else sub.ready.push(delivery);
    this.schedulePump(sub);
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
      filter: parseFilter(resource.filter ?? ''),
      firstSeq: this.nextMessageId,
      unacked: new Map(),
      ready: [],
      keys: new OrderedKeys(),
      generation: 0,
      outstanding: new Map(),
      consumers: new Set(),
      pendingPulls: [],
      pushesInFlight: 0,
      nextConsumer: 0,
      pumpScheduled: false,
      flow: this.options.pushFlow ? new PushFlow(this.options.pushFlow) : null,
      flowWake: null,
      pushCounts: { pushes: 0, acks: 0, nacks: 0, backoffs: 0 },
    });
    return resource;
  }

  getSubscription(name: string): Subscription {
    return this.state(name).resource;
  }

  /** Counters and flow-control state of every push subscription. */
  pushStats(): PushStats[] {
    const now = Date.now();
    return [...this.subscriptions.values()]
      .filter((sub) => sub.resource.pushConfig?.pushEndpoint)
      .map((sub) => ({
        subscription: sub.resource.name,
        ...sub.pushCounts,
        window: sub.flow ? sub.flow.state().window : null,
        backoffRemainingMs: sub.flow ? sub.flow.backoffRemaining(now) : 0,
        unacked: sub.unacked.size,
      }))
      .sort((a, b) => (a.subscription < b.subscription ? -1 : a.subscription > b.subscription ? 1 : 0));
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
    const now = this.take(sub, maxMessages, sub.resource.ackDeadlineSeconds ?? 10, null, unaryPull);
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
      const delivery = this.release(sub, ackId);
      if (delivery) this.settled(sub, delivery);
    }
    this.schedulePump(sub);
  }

  /** A message is done with on this subscription (acked or dead-lettered). */
  private settled(sub: SubscriptionState, delivery: Delivery): void {
    sub.unacked.delete(delivery.seq);
    const key = orderingKeyOf(sub, delivery);
    if (key) sub.keys.settle(key, delivery);
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
        this.failed(sub, delivery);
      } else {
        this.cancel(delivery.deadline);
        delivery.deadline = this.after(seconds * 1000, () => this.expire(sub, ackId));
      }
    }
    this.schedulePump(sub);
  }

  // ---- snapshots and seek ----

  /**
   * Takes a snapshot of a subscription: its unacked messages now, and every message its topic
   * receives from now on, kept for 7 days less the age of the oldest unacked message.
   */
  createSnapshot(name: string, subscriptionName: string, labels: Record<string, string> = {}): Snapshot {
    parseSnapshotName(name, 'name');
    const sub = this.state(subscriptionName);
    if (this.liveSnapshot(name)) throw alreadyExists(`Snapshot already exists (resource=${name}).`);
    if (!this.topics.has(sub.resource.topic)) {
      throw failedPrecondition(`The topic of subscription ${subscriptionName} was deleted: it can't be snapshotted.`);
    }
    const now = Date.now();
    const unacked = [...sub.unacked.values()]
      .sort((a, b) => a.seq - b.seq)
      .map((d): RetainedMessage => ({ message: d.message, seq: d.seq, publishedMs: d.publishedMs }));
    const record: SnapshotRecord = {
      name,
      topic: sub.resource.topic,
      labels: { ...labels },
      expireMs: (unacked[0]?.publishedMs ?? now) + snapshotLifetimeMs,
      unacked,
      fromSeq: this.nextMessageId,
    };
    this.snapshots.set(name, record);
    return showSnapshot(record);
  }

  getSnapshot(name: string): Snapshot {
    return showSnapshot(this.snapshot(name));
  }

  listSnapshots(project: string): Snapshot[] {
    return this.liveSnapshots()
      .filter((s) => s.name.startsWith(`projects/${project}/`))
      .sort(byName)
      .map(showSnapshot);
  }

  updateSnapshot(update: Snapshot, paths: string[]): Snapshot {
    const record = this.snapshot(update.name, 'snapshot.name');
    if (paths.length === 0) throw invalidArgument('Invalid update_mask: it must name at least one field to update.');
    for (const path of paths.map(snakeCase)) {
      if (path === 'labels') record.labels = { ...(update.labels ?? {}) };
      else if (path === 'expire_time') {
        const expireMs = timestampMs(update.expireTime);
        if (expireMs <= Date.now()) throw invalidArgument('Invalid expire_time: it must be in the future.');
        record.expireMs = expireMs;
      } else {
        throw invalidArgument(`Invalid update_mask: the field "${path}" cannot be updated. Updatable fields: labels, expire_time.`);
      }
    }
    return showSnapshot(record);
  }

  deleteSnapshot(name: string): void {
    this.snapshot(name);
    this.snapshots.delete(name);
  }

  /**
   * Seek to a time: messages published before it count as acknowledged, those published at or after it
   * (still unacked, or retained: by the topic's retention, or the subscription's when it retains acked
   * messages) are delivered again; a time in the future purges the backlog. Seek to a snapshot: the
   * backlog becomes the snapshot's unacked messages and everything published since it was taken.
   * Outstanding leases end; acks for them are ignored.
   */
  seek(subscriptionName: string, target: { time?: Timestamp | null; snapshot?: string }): void {
    const sub = this.state(subscriptionName);
    let backlog: RetainedMessage[];
    const log = this.logs.get(sub.resource.topic);
    if (target.snapshot) {
      const snapshot = this.snapshot(target.snapshot, 'snapshot');
      if (snapshot.topic !== sub.resource.topic) {
        throw failedPrecondition(
          `Snapshot ${snapshot.name} is of topic ${snapshot.topic} and subscription ${subscriptionName} of ` +
            `${sub.resource.topic}: a subscription can only seek to a snapshot of its own topic.`,
        );
      }
      backlog = [...snapshot.unacked, ...(log?.select((e) => e.seq >= snapshot.fromSeq) ?? [])];
    } else if (target.time) {
      const fromMs = timestampMs(target.time);
      const now = Date.now();
      const topic = this.topics.get(sub.resource.topic);
      const topicKeepMs = topic?.messageRetentionDuration ? durationSeconds(topic.messageRetentionDuration) * 1000 : 0;
      const subKeepMs = sub.resource.retainAckedMessages
        ? durationSeconds(sub.resource.messageRetentionDuration ?? { seconds: limits.defaultRetentionSeconds }) * 1000
        : 0;
      const retained = (e: RetainedMessage): boolean =>
        (topicKeepMs > 0 && e.publishedMs >= now - topicKeepMs) ||
        (subKeepMs > 0 && e.seq >= sub.firstSeq && e.publishedMs >= now - subKeepMs);
      backlog = [
        ...[...sub.unacked.values()].filter((d) => d.publishedMs >= fromMs),
        ...(log?.select((e) => e.publishedMs >= fromMs && retained(e)) ?? []),
      ];
    } else {
      throw invalidArgument('Seek needs a time or a snapshot.');
    }
    const bySeq = new Map<number, RetainedMessage>();
    for (const entry of backlog) {
      if (sub.filter(entry.message.attributes ?? {})) bySeq.set(entry.seq, entry);
    }
    this.clearBacklog(sub);
    for (const entry of [...bySeq.values()].sort((a, b) => a.seq - b.seq)) this.enqueue(sub, entry);
    this.schedulePump(sub);
  }

  private liveSnapshots(): SnapshotRecord[] {
    const now = Date.now();
    for (const [name, record] of this.snapshots) if (record.expireMs <= now) this.snapshots.delete(name);
    return [...this.snapshots.values()];
  }

  private liveSnapshot(name: string): SnapshotRecord | undefined {
    const record = this.snapshots.get(name);
    if (record && record.expireMs <= Date.now()) this.snapshots.delete(name);
    return this.snapshots.get(name);
  }

  private snapshot(name: string, field = 'snapshot'): SnapshotRecord {
    parseSnapshotName(name, field);
    const record = this.liveSnapshot(name);
    if (!record) throw notFound(`Snapshot does not exist (resource=${name}).`);
    return record;
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
      // Within the push window, and none during a push backoff, when flow control is modelled.
      const room = sub.flow ? sub.flow.room(sub.pushesInFlight, Date.now()) : Infinity;
      for (let started = 0; sub.pushesInFlight < this.options.pushConcurrency && started < room; started++) {
        // One outstanding push per ordering key; messages without a key go in publish order.
        const delivery = sub.keys.take(pushHolder, 1, true)[0] ?? sub.ready.shift();
        if (!delivery) break;
        this.push(sub, endpoint, delivery);
      }
      const wait = sub.flow?.backoffRemaining(Date.now()) ?? 0;
      if (wait > 0 && !sub.flowWake) {
        sub.flowWake = this.after(wait, () => {
          sub.flowWake = null;
          this.schedulePump(sub);
        });
      }
      return;
    }
    const deadline = sub.resource.ackDeadlineSeconds ?? 10;
    while (this.available(sub) > 0 && sub.pendingPulls.length > 0) {
      const pending = sub.pendingPulls[0]!;
      const batch = this.take(sub, pending.max, deadline, null, unaryPull);
      // What is left may be ordered messages held by a stream: the pull keeps waiting.
      if (batch.length === 0) break;
      sub.pendingPulls.shift();
      this.cancel(pending.timer);
      pending.resolve(batch);
    }
    // Spread the backlog over the open streams (the client opens five) within their flow control.
    const consumers = [...sub.consumers];
    let subscriptionRoom = this.orderedStreamRoom(sub, consumers);
    for (let i = 0; i < consumers.length && this.available(sub) > 0; i++) {
      const consumer = consumers[(sub.nextConsumer + i) % consumers.length]!;
      const room =
        consumer.maxOutstandingMessages > 0 ? consumer.maxOutstandingMessages - consumer.outstanding : Infinity;
      const share = Math.ceil(this.available(sub) / (consumers.length - i));
      const count = Math.min(room, share, subscriptionRoom);
      subscriptionRoom -= Math.max(0, count);
      if (count <= 0) continue;
      const batch = this.take(sub, count, consumer.ackDeadlineSeconds, consumer, consumer);
      if (batch.length > 0) consumer.deliver(batch);
    }
    sub.nextConsumer = consumers.length > 0 ? (sub.nextConsumer + 1) % consumers.length : 0;
  }

  /**
   * On an ordered subscription, the streams together get at most one stream's flow-control limit.
   * The client announces its limit on each of its five streams but holds one inventory for all of
   * them; once that inventory is full, it hands out newly arrived messages before the ones it queued,
   * which would put a key's messages out of order in the user's callback.
   */
  private orderedStreamRoom(sub: SubscriptionState, consumers: StreamConsumer[]): number {
    if (!sub.resource.enableMessageOrdering) return Infinity;
    const limits = consumers.map((c) => c.maxOutstandingMessages).filter((limit) => limit > 0);
    if (limits.length === 0) return Infinity;
    return Math.min(...limits) - consumers.reduce((sum, c) => sum + c.outstanding, 0);
  }

  private available(sub: SubscriptionState): number {
    return sub.ready.length + sub.keys.available;
  }

  /** Leases up to `max` messages: ordered keys this holder may take first, then messages without a key. */
  private take(
    sub: SubscriptionState,
    max: number,
    deadlineSeconds: number,
    holder: StreamConsumer | null,
    keyHolder: object,
  ): ReceivedMessage[] {
    const batch = sub.keys.available > 0 ? sub.keys.take(keyHolder, max, false) : [];
    if (batch.length < max) batch.push(...sub.ready.splice(0, max - batch.length));
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
    abort?.();
    this.failed(sub, delivery);
  }

  /**
   * After a failed delivery (its lease already ended): dead-letter it when attempts are used up, else
   * offer it again after the backoff. On an ordered subscription the key's later leased messages are
   * taken back and, with those acked meanwhile, wait behind it, so none of them overtakes it.
   */
  private failed(sub: SubscriptionState, delivery: Delivery): void {
    const policy = sub.resource.deadLetterPolicy;
    // With the dead-letter topic deleted, the message is kept and retried, as the real service keeps
    // it until forwarding succeeds.
    const deadLetterTopic =
      policy?.deadLetterTopic &&
      delivery.attempts >= (policy.maxDeliveryAttempts ?? 5) &&
      this.topics.has(policy.deadLetterTopic)
        ? policy.deadLetterTopic
        : null;
    const key = orderingKeyOf(sub, delivery);
    if (key) {
      const { revoked, revived } = sub.keys.fail(key, delivery, deadLetterTopic !== null);
      for (const later of revoked) this.revoke(sub, later);
      for (const later of revived) sub.unacked.set(later.seq, later);
    }
    if (deadLetterTopic) {
      sub.unacked.delete(delivery.seq);
      this.deadLetter(sub, delivery, deadLetterTopic);
      this.schedulePump(sub);
      return;
    }
    const generation = sub.generation;
    this.after(this.backoffMs(sub, delivery.attempts), () => {
      if (this.subscriptions.get(sub.resource.name) !== sub || sub.generation !== generation) return;
      if (key) sub.keys.unblock(key);
      else sub.ready.push(delivery);
      this.schedulePump(sub);
    });
  }

  /** Ends a lease the broker takes back (a later message of a failed key): its ack will be ignored. */
  private revoke(sub: SubscriptionState, delivery: Delivery): void {
    const abort = delivery.abort;
    if (delivery.ackId) this.release(sub, delivery.ackId);
    abort?.();
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
    const generation = sub.generation;
    const request = buildPushRequest(
      sub.resource,
      delivery.message,
      sub.resource.deadLetterPolicy ? delivery.attempts : undefined,
    );
    // A subscription with an oidcToken signs each push, as the real service does (oidc.ts).
    const authorization = this.options.signer?.authorizationFor(sub.resource, endpoint);
    if (authorization) request.headers.authorization = authorization;
    sub.pushesInFlight += 1;
    sub.pushCounts.pushes += 1;
    delivery.abort = this.pusher.send(endpoint, request, (acked) => {
      sub.pushesInFlight -= 1;
      if (this.closed) return;
      if (acked) sub.pushCounts.acks += 1;
      else sub.pushCounts.nacks += 1;
      const backoffBefore = sub.flow?.state().backoffUntil ?? 0;
      sub.flow?.record(acked, Date.now());
      if ((sub.flow?.state().backoffUntil ?? 0) > backoffBefore) sub.pushCounts.backoffs += 1;
      // If the deadline already expired (or a seek reset the backlog), the lease is gone and this
      // answer no longer counts.
      const current = sub.generation === generation ? this.release(sub, ackId) : undefined;
      if (current) {
        if (acked) this.settled(sub, current);
        else this.failed(sub, current);
      }
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

  /** Drops every lease and queued message of the subscription (a seek, a delete). */
  private clearBacklog(sub: SubscriptionState): void {
    for (const delivery of sub.outstanding.values()) {
      this.cancel(delivery.deadline);
      delivery.abort?.();
      if (delivery.holder) delivery.holder.outstanding -= 1;
      delivery.holder = null;
    }
    sub.outstanding.clear();
    sub.ready = [];
    sub.keys.clear();
    sub.unacked.clear();
    sub.generation += 1;
  }

  private dispose(sub: SubscriptionState, error: PubSubApiError): void {
    this.clearBacklog(sub);
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
    this.logs.clear();
    this.snapshots.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

const showSnapshot = (record: SnapshotRecord): Snapshot => ({
  name: record.name,
  topic: record.topic,
  expireTime: toTimestamp(record.expireMs),
  labels: { ...record.labels },
});

const snakeCase = (path: string): string => path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The key a message waits behind, or '' when it is delivered without ordering. */
const orderingKeyOf = (sub: SubscriptionState, delivery: Delivery): string =>
  sub.resource.enableMessageOrdering ? (delivery.message.orderingKey ?? '') : '';

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
