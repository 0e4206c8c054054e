/**
 * At most N requests in flight per host within one instance, so a portfolio of 500 articles from one
 * site doesn't hit that site 500 times at once. Waiting for a slot is bounded on its own (`maxWaitMs`),
 * not by the fetch's deadline: a page queued behind slow pages of its host still gets its full
 * deadline once it holds a slot.
 */
export class HostLimiter {
  private readonly hosts = new Map<string, { active: number; waiting: Array<() => void> }>();

  /**
   * Resolves with a release function once a slot for `host` is free. Rejects with the abort reason if
   * `signal` aborts first, or with {@link HostWaitExpired} after `maxWaitMs` without a slot.
   */
  acquire(host: string, limit: number, signal: AbortSignal, maxWaitMs: number = Infinity): Promise<() => void> {
    const state = this.hosts.get(host) ?? { active: 0, waiting: [] };
    this.hosts.set(host, state);
    const release = (): void => {
      state.active -= 1;
      const next = state.waiting.shift();
      if (next) next();
      else if (state.active === 0) this.hosts.delete(host);
    };
    const once = (): (() => void) => {
      let done = false;
      return () => {
        if (!done) {
          done = true;
          release();
        }
      };
    };
    if (state.active < limit) {
      state.active += 1;
      return Promise.resolve(once());
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const index = state.waiting.indexOf(grant);
        if (index >= 0) state.waiting.splice(index, 1);
        if (state.active === 0 && state.waiting.length === 0) this.hosts.delete(host);
      };
      const grant = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        state.active += 1;
        resolve(once());
      };
      const onAbort = (): void => {
        leave();
        reject(signal.reason);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      state.waiting.push(grant);
      if (Number.isFinite(maxWaitMs)) {
        timer = setTimeout(() => {
          leave();
          reject(new HostWaitExpired(host, maxWaitMs));
        }, maxWaitMs);
      }
    });
  }

  /** Requests in flight for `host` (for tests and diagnostics). */
  active(host: string): number {
    return this.hosts.get(host)?.active ?? 0;
  }

  /** Fetches waiting for a slot of `host` (for tests and diagnostics). */
  waiting(host: string): number {
    return this.hosts.get(host)?.waiting.length ?? 0;
  }
}

/** No slot of `host` came free within `waitedMs`. */
export class HostWaitExpired extends Error {
  constructor(
    readonly host: string,
    readonly waitedMs: number,
  ) {
    super(`no request slot for ${host} within ${waitedMs} ms`);
    this.name = 'HostWaitExpired';
  }
}
