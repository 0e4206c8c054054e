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
  /**
   * Topic of messages that must wait before they are scraped (a page's Retry-After, a host backing
   * off, a dead letter re-queued after our own outage). Each carries `notBefore`; its push
   * subscription to the `recordDeadLetter` function answers "not yet" until then, and then publishes
   * the message to `topic` again. So a wait never nacks the scraper's subscription.
   */
  delayTopic: string;
  /** Push subscription on `delayTopic` whose endpoint is the `recordDeadLetter` function. */
  delaySubscription: string;
  /**
   * Backoff of the delay subscription: how often a waiting message is offered again before its time
   * (production / local). Its lateness after `notBefore` is at most the maximum.
   */
  delayBackoff: { production: RetryBackoff; local: RetryBackoff };
  /**
   * Deliveries of a waiting message before it goes to `deadLetterTopic` (Pub/Sub's maximum). Only a
   * safety net: the recorder handles a dead letter that still waits as a waiting message.
   */
  delayMaxDeliveryAttempts: number;
  /**
   * A dead letter whose article shows fewer than `maxDeliveryAttempts` fetches of its own lost its
   * deliveries to our outage (scraper down, storage down), not to the page. It is re-queued through
   * `delayTopic` after `requeueDelaySeconds` doubled per re-queue, at most `requeueMaxDelaySeconds`,
   * at most `maxRequeues` times (production: about 4 hours of outage; local: about 20 minutes).
   */
  requeue: { maxRequeues: number; production: { delaySeconds: number; maxDelaySeconds: number }; local: { delaySeconds: number; maxDelaySeconds: number } };
  /** Default cap of a Retry-After the scraper honours (RETRY_AFTER_MAX_SECONDS): the production retry policy's maximum backoff. */
  retryAfterMaxSeconds: number;
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
  delayTopic: 'article-urls-delayed',
  delaySubscription: 'article-urls-delayed-requeuer',
  delayBackoff: {
    production: { minimumBackoffSeconds: 10, maximumBackoffSeconds: 60 },
    local: { minimumBackoffSeconds: 2, maximumBackoffSeconds: 15 },
  },
  delayMaxDeliveryAttempts: 100,
  requeue: {
    maxRequeues: 20,
    production: { delaySeconds: 60, maxDelaySeconds: 600 },
    local: { delaySeconds: 2, maxDelaySeconds: 30 },
  },
  retryAfterMaxSeconds: 600,
};

/** Firestore collections. */
export const collections = {
  articles: 'articles',
  portfolios: 'portfolios',
  /** `fetchLeases/{urlKey}~{fetchNumber}`: who may make fetch number N of an article (create-once). */
  fetchLeases: 'fetchLeases',
} as const;

/** Pub/Sub message attributes the API sets on every URL message. */
export const messageAttributes = {
  portfolioId: 'portfolioId',
  urlKey: 'urlKey',
  /** On a delayed message: ISO time before which it must not be scraped. */
  notBefore: 'notBefore',
  /** On a re-queued message: how often it was re-queued after losing its deliveries to our outage. */
  requeues: 'requeues',
  /** On a delayed or re-queued message: the publish time of the message the API first published. */
  submittedAt: 'submittedAt',
  /** On a delayed message: what it waits for (a host name, or the page), for the logs. */
  waitingFor: 'waitingFor',
} as const;
