/**
 * At most N requests in flight per host within one instance, so a portfolio of 500 articles from one
 * site doesn't hit that site 500 times at once. Waiting counts against the fetch's deadline.
 */
export class HostLimiter {
  private readonly hosts = new Map<string, { active: number; waiting: Array<() => void> }>();

  /** Resolves with a release function once a slot for `host` is free; rejects if `signal` aborts first. */
  acquire(host: string, limit: number, signal: AbortSignal): Promise<() => void> {
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
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        state.active += 1;
        resolve(once());
      };
      const onAbort = (): void => {
        const index = state.waiting.indexOf(grant);
        if (index >= 0) state.waiting.splice(index, 1);
        reject(signal.reason);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      state.waiting.push(grant);
    });
  }

  /** Requests in flight for `host` (for tests and diagnostics). */
  active(host: string): number {
    return this.hosts.get(host)?.active ?? 0;
  }
}
