/** Ordering keys: per-key queues that hand out a key's messages in publish order, to one holder at a time. */

/** Who holds a key's leased messages: a StreamingPull stream, or a shared token for unary Pull or for push. */
export type KeyHolder = object;

interface KeyState<D> {
  /** Not yet leased, in publish order. */
  queue: D[];
  /** Leased and not yet settled, in publish order. */
  leased: D[];
  /**
   * Settled (acked) while an earlier message of the key was still leased: if that one fails, these
   * are delivered again after it, as the real service redelivers a key's later messages.
   */
  settledAhead: D[];
  holder: KeyHolder | null;
  /** The head of `queue` waits out its retry backoff; nothing of this key is delivered until then. */
  blocked: boolean;
}

/**
 * The messages of an ordered subscription that carry an ordering key. A key's messages are leased in
 * publish order and only to the holder of its earlier leases (a stream keeps its keys while it has
 * them outstanding); `onePerKey` (push) allows a single outstanding message per key. When a message
 * fails (nack, expiry, failed push), the key's later leases are taken back, its later messages acked
 * meanwhile are delivered again after it (as on the real service), and the key is held until the
 * failed message is offered again, so nothing overtakes it.
 */
export class OrderedKeys<D extends { readonly seq: number }> {
  private readonly keys = new Map<string, KeyState<D>>();
  /** Keys with something to lease now (not blocked, queue not empty), oldest first. */
  private readonly ready = new Set<string>();
  /** Messages in queues of keys that are not blocked. */
  private queuedCount = 0;

  get available(): number {
    return this.queuedCount;
  }

  enqueue(key: string, delivery: D): void {
    const state = this.state(key);
    state.queue.push(delivery);
    if (!state.blocked) {
      this.queuedCount += 1;
      this.ready.add(key);
    }
  }

  /** Leases up to `max` messages to `holder`, in publish order within each key. */
  take(holder: KeyHolder, max: number, onePerKey: boolean): D[] {
    const batch: D[] = [];
    for (const key of this.ready) {
      if (batch.length >= max) break;
      const state = this.keys.get(key)!;
      if (onePerKey ? state.leased.length > 0 : state.holder !== null && state.holder !== holder) continue;
      const count = onePerKey ? 1 : max - batch.length;
      const taken = state.queue.splice(0, count);
      this.queuedCount -= taken.length;
      state.leased.push(...taken);
      state.holder = holder;
      batch.push(...taken);
      if (state.queue.length === 0) this.ready.delete(key);
    }
    return batch;
  }

  /** An acked message leaves its key (kept aside while an earlier message of the key is leased). */
  settle(key: string, delivery: D): void {
    const state = this.keys.get(key);
    if (!state) return;
    remove(state.leased, delivery);
    if (state.leased.some((d) => d.seq < delivery.seq)) state.settledAhead.push(delivery);
    this.afterLeaseChange(key, state);
  }

  /**
   * A leased message failed. Returns the key's later leased messages, which the caller must take
   * back (end their leases), and its later messages acked meanwhile, which are unacked again. They
   * and, unless `dropFailed` (dead-lettered), the failed message go back to the front of the key's
   * queue in publish order; with the failed message kept, the key stays blocked until {@link unblock}.
   */
  fail(key: string, delivery: D, dropFailed: boolean): { revoked: D[]; revived: D[] } {
    const state = this.keys.get(key);
    if (!state) return { revoked: [], revived: [] };
    remove(state.leased, delivery);
    const later = state.leased.filter((d) => d.seq > delivery.seq);
    state.leased = state.leased.filter((d) => d.seq < delivery.seq);
    // A dead-lettered message is not delivered again, so what was acked after it stays acked.
    const revived = dropFailed ? [] : state.settledAhead.filter((d) => d.seq > delivery.seq);
    state.settledAhead = state.settledAhead.filter((d) => d.seq < delivery.seq);
    const back = [...(dropFailed ? [] : [delivery]), ...later, ...revived].sort((a, b) => a.seq - b.seq);
    if (!state.blocked) this.queuedCount -= state.queue.length;
    state.queue = [...back, ...state.queue];
    state.blocked = !dropFailed;
    if (!state.blocked) this.queuedCount += state.queue.length;
    this.afterLeaseChange(key, state);
    return { revoked: later, revived };
  }

  /** The failed message's backoff is over: the key may be delivered again. */
  unblock(key: string): void {
    const state = this.keys.get(key);
    if (!state?.blocked) return;
    state.blocked = false;
    this.queuedCount += state.queue.length;
    this.afterLeaseChange(key, state);
  }

  /** Forgets every key (a seek, a deleted subscription). */
  clear(): void {
    this.keys.clear();
    this.ready.clear();
    this.queuedCount = 0;
  }

  private state(key: string): KeyState<D> {
    let state = this.keys.get(key);
    if (!state) {
      state = { queue: [], leased: [], settledAhead: [], holder: null, blocked: false };
      this.keys.set(key, state);
    }
    return state;
  }

  private afterLeaseChange(key: string, state: KeyState<D>): void {
    if (state.leased.length === 0) state.holder = null;
    // Acked messages no earlier lease can fail before any more.
    const oldestLeased = state.leased[0]?.seq ?? Infinity;
    if (state.settledAhead.length > 0) state.settledAhead = state.settledAhead.filter((d) => d.seq > oldestLeased);
    if (!state.blocked && state.queue.length > 0) this.ready.add(key);
    else this.ready.delete(key);
    if (state.queue.length === 0 && state.leased.length === 0 && !state.blocked) this.keys.delete(key);
  }
}

function remove<D>(list: D[], item: D): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}
