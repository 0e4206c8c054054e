/**
 * Group commit for concurrent calls that one RPC can serve together (Firestore's getAll, a batched
 * commit). An instance of the scraper handles many deliveries at once, and each would otherwise pay
 * for its own read and its own commit: per RPC the Firestore client, gRPC and the request's async
 * bookkeeping cost more CPU than the document itself.
 *
 * No timer and no added wait: a call goes out at once while fewer than `maxInFlight` batches are
 * running; calls that arrive meanwhile queue and leave together, up to `maxBatch`, as soon as a
 * batch returns. So batches form only when the calls outpace the RPCs, which is when they pay off.
 */

/** Runs one batch: one result per item, in order. Rejecting fails every call of the batch. */
export type BatchRunner<Item, Result> = (items: Item[]) => Promise<Result[]>;

/** Limits of a {@link groupCalls} batcher. */
export interface GroupLimits {
  /** Batches running at once. */
  maxInFlight: number;
  /** Items per batch. */
  maxBatch: number;
  /**
   * How long a batch waits for company after its first call, unless it fills up first; unset: it
   * goes out at once. For calls that come in bursts a few milliseconds apart and can afford to wait.
   */
  lingerMs?: number;
}

interface Pending<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/** A function of one item whose concurrent calls are served in batches by `run`. */
export function groupCalls<Item, Result>(run: BatchRunner<Item, Result>, limits: GroupLimits): (item: Item) => Promise<Result> {
  if (!(limits.maxInFlight >= 1 && limits.maxBatch >= 1)) throw new RangeError('groupCalls needs maxInFlight ≥ 1 and maxBatch ≥ 1.');
  const queue: Pending<Item, Result>[] = [];
  let inFlight = 0;
  let lingering: NodeJS.Timeout | null = null;

  const settle = (batch: Pending<Item, Result>[], results: Result[]): void => {
    if (results.length !== batch.length) {
      const error = new Error(`A batch of ${batch.length} returned ${results.length} results.`);
      for (const call of batch) call.reject(error);
      return;
    }
    batch.forEach((call, index) => call.resolve(results[index] as Result));
  };

  const pump = (): void => {
    if (lingering !== null && queue.length < limits.maxBatch) return;
    if (lingering !== null) {
      clearTimeout(lingering);
      lingering = null;
    }
    while (inFlight < limits.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, limits.maxBatch);
      inFlight += 1;
      let running: Promise<Result[]>;
      try {
        running = run(batch.map((call) => call.item));
      } catch (error) {
        running = Promise.reject(error);
      }
      running
        .then(
          (results) => settle(batch, results),
          (error: unknown) => {
            for (const call of batch) call.reject(error);
          },
        )
        .finally(() => {
          inFlight -= 1;
          pump();
        });
    }
  };

  return (item) =>
    new Promise<Result>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (limits.lingerMs !== undefined && queue.length === 1 && lingering === null) {
        lingering = setTimeout(() => {
          lingering = null;
          pump();
        }, limits.lingerMs);
        return;
      }
      pump();
    });
}
