/** Message retention: what a topic keeps after delivery (for seek and snapshots), and snapshot records. */
import type { PubsubMessage, Timestamp } from './types';

/** A published message as retention sees it. */
export interface RetainedMessage {
  readonly message: PubsubMessage;
  /** Publish order across the emulator (the numeric message id). */
  readonly seq: number;
  /** Publish time in milliseconds since the epoch. */
  readonly publishedMs: number;
}

/** A snapshot: the unacked messages of a subscription when it was taken, and its topic. */
export interface SnapshotRecord {
  name: string;
  topic: string;
  labels: Record<string, string>;
  expireMs: number;
  /** Unacked messages of the source subscription at creation. */
  unacked: RetainedMessage[];
  /** Messages published from this seq on are part of the snapshot too. */
  fromSeq: number;
}

/** A snapshot is kept at most 7 days, less the age of the oldest unacked message (pubsub.proto). */
export const snapshotLifetimeMs = 7 * 24 * 3600 * 1000;

export const timestampMs = (time: Timestamp | null | undefined): number =>
  Number(time?.seconds ?? 0) * 1000 + Math.floor((time?.nanos ?? 0) / 1e6);

export const toTimestamp = (ms: number): Timestamp => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

/**
 * The messages a topic retains, oldest first: kept while the longest retention that could need them
 * (the topic's own, a subscription's that retains acked messages, a live snapshot's) has not passed.
 */
export class TopicLog {
  private readonly entries: RetainedMessage[] = [];

  append(entry: RetainedMessage, keepMs: number): void {
    this.prune(entry.publishedMs - keepMs);
    if (keepMs > 0) this.entries.push(entry);
  }

  /** Drops what was published before `horizonMs`. */
  prune(horizonMs: number): void {
    let drop = 0;
    while (drop < this.entries.length && this.entries[drop]!.publishedMs < horizonMs) drop++;
    if (drop > 0) this.entries.splice(0, drop);
  }

  /** Retained messages for which `keep` holds, in publish order. */
  select(keep: (entry: RetainedMessage) => boolean): RetainedMessage[] {
    return this.entries.filter(keep);
  }
}
