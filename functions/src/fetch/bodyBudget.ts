/**
 * An instance-wide cap on body bytes held in memory at once. The per-fetch cap alone lets 50 concurrent
 * fetches hold 50 × 5 MB; with the budget, a fetch whose next chunk doesn't fit waits (the socket is
 * paused, so the server is slowed by TCP flow control, not buffered for) until others finish.
 *
 * No deadlock: the oldest body being read may always take more, even past the budget, so it always
 * finishes (or hits its own cap) and frees its bytes for the next. Memory is thus bounded by
 * `limit + one fetch's cap`. Waiting counts against the fetch's overall deadline.
 */
export class BodyBudget {
  private used = 0;
  /** Open leases and the bytes each holds, oldest first (Map keeps insertion order). */
  private readonly leases = new Map<BodyLease, number>();
  private readonly waiting: Array<{ lease: BodyLease; bytes: number; grant: () => void; fail: (error: unknown) => void }> = [];

  constructor(readonly limit: number) {}

  /** A lease for one body; release it once the bytes are no longer held. */
  lease(): BodyLease {
    const lease = new BodyLease(this);
    this.leases.set(lease, 0);
    return lease;
  }

  /** Bytes currently held by all leases (for tests and diagnostics). */
  get held(): number {
    return this.used;
  }

  /** @internal Takes bytes for `lease`, waiting (abortably) while the budget is spent. */
  take(lease: BodyLease, bytes: number, signal: AbortSignal): Promise<void> {
    if (!this.leases.has(lease)) return Promise.reject(new Error('body lease used after release'));
    if (this.fits(lease, bytes)) {
      this.grant(lease, bytes);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => entry.fail(signal.reason);
      const entry = {
        lease,
        bytes,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          const index = this.waiting.indexOf(entry);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(error);
        },
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** @internal Gives back everything `lease` holds. */
  release(lease: BodyLease): void {
    const held = this.leases.get(lease);
    if (held === undefined) return;
    this.used -= held;
    this.leases.delete(lease);
    for (const entry of this.waiting.filter((candidate) => candidate.lease === lease)) entry.fail(new Error('body lease released'));
    this.wake();
  }

  private grant(lease: BodyLease, bytes: number): void {
    this.used += bytes;
    this.leases.set(lease, (this.leases.get(lease) ?? 0) + bytes);
  }

  private fits(lease: BodyLease, bytes: number): boolean {
    return this.used + bytes <= this.limit || this.leases.keys().next().value === lease;
  }

  private wake(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const entry = this.waiting[i];
      if (entry && this.fits(entry.lease, entry.bytes)) {
        this.waiting.splice(i, 1);
        this.grant(entry.lease, entry.bytes);
        entry.grant();
      } else {
        i += 1;
      }
    }
  }
}

/** The bytes one body holds in a BodyBudget. */
export class BodyLease {
  constructor(private readonly budget: BodyBudget) {}

  /** Takes `bytes` from the budget, waiting while it is spent; resolves at once when they fit. */
  take(bytes: number, signal: AbortSignal): Promise<void> {
    return this.budget.take(this, bytes, signal);
  }

  /** Gives every byte back. Safe to call more than once. */
  release(): void {
    this.budget.release(this);
  }
}
