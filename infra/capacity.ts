/**
 * How many instances each function may run and how many requests each instance serves, decided in
 * one place, with the sums that follow from them: deliveries in flight, requests per site across
 * the scraper's instances, and the Firestore writes per second they can reach.
 */

/** Sizing of one function. */
export interface FunctionCapacity {
  /** Instances at most (Cloud Run `maxInstanceCount`). */
  maxInstances: number;
  /** Requests one instance serves at once (`maxInstanceRequestConcurrency`). */
  concurrency: number;
}

/** What the sizes imply, at the most. */
export interface CapacitySums {
  /** Push deliveries the scraper handles at once: its instances × concurrency. Pub/Sub holds the rest. */
  deliveriesInFlight: number;
  /** Dead letters the recorder handles at once. */
  deadLettersInFlight: number;
  /** Requests to one site at once across the scraper's instances: instances × FETCH_PER_HOST_CONCURRENCY. */
  requestsPerHost: number;
  /**
   * Firestore writes per second if every delivery in flight took one second: each scrape delivery
   * writes its article once (a success, a failure or a retry's attempt) and each dead letter once.
   * Shorter deliveries write proportionally faster.
   */
  firestoreWritesPerSecondAt1s: number;
}

/** The plan the program deploys. */
export interface CapacityPlan {
  api: FunctionCapacity;
  scraper: FunctionCapacity;
  recorder: FunctionCapacity;
  sums: CapacitySums;
}

/** Defaults, used unless `pulumi config` says otherwise. */
export const DEFAULT_CAPACITY: { api: FunctionCapacity; scraper: FunctionCapacity; recorder: FunctionCapacity } = {
  api: { maxInstances: 10, concurrency: 16 },
  scraper: { maxInstances: 10, concurrency: 16 },
  // Dead letters are rare and each is one short transaction: two instances are plenty.
  recorder: { maxInstances: 2, concurrency: 16 },
};

/**
 * Firestore's guidance for a new collection: start at 500 operations per second and grow by half
 * every five minutes. The plan must not exceed it when every delivery takes a second.
 */
export const FIRESTORE_RAMP_WRITES_PER_SECOND = 500;

/** The sums of `sizes`, with `perHostConcurrency` the fetcher's per-instance limit for one site. */
export function capacityPlan(sizes: { api: FunctionCapacity; scraper: FunctionCapacity; recorder: FunctionCapacity }, perHostConcurrency: number): CapacityPlan {
  const deliveriesInFlight = sizes.scraper.maxInstances * sizes.scraper.concurrency;
  const deadLettersInFlight = sizes.recorder.maxInstances * sizes.recorder.concurrency;
  return {
    ...sizes,
    sums: {
      deliveriesInFlight,
      deadLettersInFlight,
      requestsPerHost: sizes.scraper.maxInstances * perHostConcurrency,
      firestoreWritesPerSecondAt1s: deliveriesInFlight + deadLettersInFlight,
    },
  };
}
