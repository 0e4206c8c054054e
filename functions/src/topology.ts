/**
 * The message topology, defined once. `infra/` provisions exactly this on Google Cloud and
 * `emulator/` provisions the same thing on the local emulators; only the retry backoff differs
 * (a local run should not wait ten minutes for a retry).
 */

/** Retry backoff of a subscription, in seconds (Pub/Sub allows 0–600). */
export interface RetryBackoff {
  minimumBackoffSeconds: number;
  maximumBackoffSeconds: number;
}

/** Names, limits and timings of the queue that carries one message per article URL. */
export interface Topology {
  /** Topic the API publishes one message per accepted URL to. */
  topic: string;
  /** Topic a message goes to after `maxDeliveryAttempts` failed deliveries. */
  deadLetterTopic: string;
  /** Push subscription on `topic` whose endpoint is the `scrapeArticle` function. */
  pushSubscription: string;
  /** Push subscription on `deadLetterTopic` whose endpoint is the `recordDeadLetter` function. */
  deadLetterSubscription: string;
  /** Pull subscription on `deadLetterTopic` nothing consumes: a copy of every dead letter, for an operator (and `npm run redrive`). */
  deadLetterAuditSubscription: string;
  /** Deliveries before a message is dead-lettered (Pub/Sub allows 5–100). */
  maxDeliveryAttempts: number;
  /** Backoff between redeliveries on the real service. */
  productionBackoff: RetryBackoff;
  /** Backoff between redeliveries on the local stack. */
  localBackoff: RetryBackoff;
  /**
   * Seconds Pub/Sub waits for the push endpoint to answer before it counts a nack. Must exceed
   * the scraper function's timeout, or a slow but successful scrape would be delivered twice.
   */
  ackDeadlineSeconds: number;
  /**
   * Timeout of the scraper function: the wait for a host slot plus the fetch deadline, plus extraction
   * and the Firestore write (config.ts checks FETCH_HOST_WAIT_TIMEOUT_MS + FETCH_TIMEOUT_MS against it).
   */
  scraperTimeoutSeconds: number;
  /** Timeout of the dead-letter recorder function. */
  recorderTimeoutSeconds: number;
  /** Timeout of the API function (it waits for publish confirmations before answering). */
  apiTimeoutSeconds: number;
}

export const topology: Topology = {
  topic: 'article-urls',
  deadLetterTopic: 'article-urls-dead-letter',
  pushSubscription: 'article-urls-scraper',
  deadLetterSubscription: 'article-urls-dead-letter-recorder',
  deadLetterAuditSubscription: 'article-urls-dead-letter-audit',
  maxDeliveryAttempts: 5,
  productionBackoff: { minimumBackoffSeconds: 10, maximumBackoffSeconds: 600 },
  localBackoff: { minimumBackoffSeconds: 1, maximumBackoffSeconds: 10 },
  ackDeadlineSeconds: 120,
  scraperTimeoutSeconds: 60,
  recorderTimeoutSeconds: 30,
  apiTimeoutSeconds: 60,
};

/** Firestore collections. */
export const collections = {
  articles: 'articles',
  portfolios: 'portfolios',
} as const;

/** Pub/Sub message attributes the API sets on every URL message. */
export const messageAttributes = {
  portfolioId: 'portfolioId',
  urlKey: 'urlKey',
} as const;
