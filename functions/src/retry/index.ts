/**
 * Waiting the world asks for: a page's Retry-After (capped), and a per-host circuit breaker that
 * backs a host off exponentially while it keeps answering 429 (and closes it while its pages keep
 * answering 503 with Retry-After). State lives in this instance only:
 * it is written on a 429 and read on every fetch, never stored per fetch.
 */

/** How long to wait before asking a page again, from its 429/503 answer; null when it named no wait. */
export function cappedRetryAfter(retryAfterMs: number | undefined, maxMs: number): number | null {
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return null;
  return Math.min(Math.max(0, retryAfterMs), maxMs);
}

/** Settings of a {@link HostBackoff}. */
export interface HostBackoffOptions {
  /** Wait after a host's first 429 that named no Retry-After; doubled per further 429. */
  baseMs: number;
  /** Longest wait, whatever the host asks for or the doubling reaches. */
  maxMs: number;
  /** A 429 more than this long after the host's last one starts the count again. */
  forgetAfterMs: number;
}

interface HostState {
  /** 429s in a row (none forgotten). */
  strikes: number;
  lastStrikeAt: number;
  blockedUntil: number;
}

/**
 * Per-host circuit breaker of one instance: after a 429 the host is closed until its Retry-After; from
 * the second 429 in a row (or a first one naming no wait) until the later of that and
 * `baseMs × 2^(strikes − 1)`, capped at `maxMs`. A success resets it. Hosts seen
 * only healthy cost nothing.
 */
export class HostBackoff {
  private readonly hosts = new Map<string, HostState>();
  private readonly unavailableStrikes = new Map<string, { strikes: number; at: number }>();

  constructor(private readonly options: HostBackoffOptions) {}

  /** Records a 429 from `host`; returns the time (epoch ms) before which the host must not be asked again. */
  rateLimited(host: string, retryAfterMs: number | null, now: number): number {
    const previous = this.hosts.get(host);
    const strikes = previous && now - previous.lastStrikeAt <= this.options.forgetAfterMs ? previous.strikes + 1 : 1;
    // The host's own Retry-After is enough the first time; from the second 429 in a row (or the first
    // without one) the host is closed for base × 2^(strikes − 1) at least.
    const doubling = retryAfterMs !== null && strikes === 1 ? 0 : this.options.baseMs * 2 ** Math.min(strikes - 1, 30);
    const wait = Math.min(this.options.maxMs, Math.max(retryAfterMs ?? 0, doubling));
    const blockedUntil = Math.max(previous?.blockedUntil ?? 0, now + wait);
    this.hosts.set(host, { strikes, lastStrikeAt: now, blockedUntil });
    return blockedUntil;
  }

  /**
   * Records a 503 from `host` that named a wait. One such page is that page's business; from the
   * `hostAfter`-th in a row the host itself is overloaded, and it is closed until the wait (capped)
   * like after a 429. Returns that time, or null while the 503s are still few.
   */
  unavailable(host: string, retryAfterMs: number, now: number, hostAfter = 3): number | null {
    const previous = this.unavailableStrikes.get(host);
    const strikes = previous && now - previous.at <= this.options.forgetAfterMs ? previous.strikes + 1 : 1;
    this.unavailableStrikes.set(host, { strikes, at: now });
    if (strikes < hostAfter) return null;
    const blockedUntil = Math.max(this.hosts.get(host)?.blockedUntil ?? 0, now + Math.min(this.options.maxMs, retryAfterMs));
    const state = this.hosts.get(host);
    this.hosts.set(host, { strikes: state?.strikes ?? 0, lastStrikeAt: state?.lastStrikeAt ?? now, blockedUntil });
    return blockedUntil;
  }

  /** A successful answer from `host`: it is healthy again. */
  succeeded(host: string): void {
    this.hosts.delete(host);
    this.unavailableStrikes.delete(host);
  }

  /** Epoch ms until which `host` is closed, or null when it may be asked now. */
  blockedUntil(host: string, now: number): number | null {
    const state = this.hosts.get(host);
    if (state === undefined) return null;
    if (state.blockedUntil > now) return state.blockedUntil;
    if (now - state.lastStrikeAt > this.options.forgetAfterMs) this.hosts.delete(host);
    return null;
  }

  /** 429s in a row from `host` (0 when healthy or forgotten). */
  strikes(host: string): number {
    return this.hosts.get(host)?.strikes ?? 0;
  }
}

/** The delay before re-queue number `requeues + 1`: `delayMs` doubled per earlier re-queue, at most `maxDelayMs`. */
export function requeueDelayMs(requeues: number, delayMs: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, delayMs * 2 ** Math.min(Math.max(0, requeues), 30));
}
