/**
 * The one reader of environment variables. Everything else receives a typed `Config` (or the part
 * of it it needs) as a parameter. README's "Configuration" table lists every variable here.
 */
import { topology } from './topology';

/** Which emulators the local stack and the tests use. */
export type EmulatorChoice = 'auto' | 'gcloud' | 'embedded';

/** Limits and identity of the page fetcher. */
export interface FetchConfig {
  /** Sent as User-Agent on every request. */
  userAgent: string;
  /**
   * One overall deadline per fetch, redirects included. It runs only while the fetch is not waiting
   * for a per-host slot: it starts when the first hop holds its slot.
   */
  timeoutMs: number;
  /**
   * Longest time one fetch may spend waiting for per-host slots, all hops together. When it runs
   * out the fetch fails `host-busy` without having sent a request.
   */
  hostWaitTimeoutMs: number;
  /** TCP + TLS connect timeout per hop. */
  connectTimeoutMs: number;
  /** Time allowed for the response headers per hop. */
  headersTimeoutMs: number;
  /** Longest silence allowed while the body streams. */
  bodyIdleTimeoutMs: number;
  /** Cap on the (decompressed) body, enforced while streaming. */
  maxBytes: number;
  /** Redirects followed by hand, each hop checked again. */
  maxRedirects: number;
  /** Concurrent requests per host within one instance. */
  perHostConcurrency: number;
  /** Destination ports allowed in URLs. */
  allowedPorts: number[];
  /**
   * Local-development switch: allow loopback and private destinations. Off by default and never
   * set by infra/; the local stack turns it on so it can scrape sites served on 127.0.0.1.
   */
  allowPrivateNetworks: boolean;
}

/** Limits of the ingest API. */
export interface ApiConfig {
  /** URLs accepted in one POST /portfolios. */
  maxUrls: number;
  /** Bytes accepted in one request body. */
  maxBodyBytes: number;
  /**
   * Where clients reach the API (`PUBLIC_BASE_URL`, set by infra to the API's URL), without a trailing
   * slash; the 202's `statusUrl` starts with it. Null: `statusUrl` is relative. Never taken from
   * request headers (Host, X-Forwarded-Proto), which any client can set.
   */
  publicBaseUrl: string | null;
}

/**
 * What a push request's OIDC token must prove (auth/pushAuth.ts). Null: pushes are not verified (a
 * local run whose Pub/Sub does not sign); infra always sets it.
 */
export interface PushAuthConfig {
  /** `PUSH_AUDIENCE`: the `aud` of the token, the function's own URL as on the subscription's oidcToken. */
  audience: string;
  /** `PUSH_SERVICE_ACCOUNT`: the `email` of the token, the service account the subscriptions sign as. */
  serviceAccount: string;
  /** `PUSH_JWKS_URL`: the issuer's public keys as a JWKS (Google's by default; the local emulator's locally). */
  jwksUrl: string;
}

/** Google's public keys for the OIDC tokens it signs, as a JWKS. */
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/** How the pipeline retries and waits (see scrape.ts and retry/). */
export interface RetryConfig {
  /** Fetches of one round before an article fails for good; the same number as the subscription's max delivery attempts. */
  maxDeliveryAttempts: number;
  /** Longest Retry-After honoured; a longer one is cut to this. */
  retryAfterMaxMs: number;
  /** A host's first 429 without Retry-After closes it this long; each further 429 doubles it (up to retryAfterMaxMs). */
  hostBackoffBaseMs: number;
  /** Delay of the first re-queue of a message that lost its deliveries to our own outage; doubled per re-queue. */
  requeueDelayMs: number;
  requeueMaxDelayMs: number;
  /** Re-queues before such a message is given up (the article fails `dead-lettered`, saying it was never fetched). */
  maxRequeues: number;
  /** How long a fetch lease holds: a delivery that took it and died is replaced after this. */
  fetchLeaseMs: number;
}

/** The validated configuration of the functions and the local stack. */
export interface Config {
  /** Google Cloud project id (on the emulators any valid id works). */
  projectId: string;
  /** Port the local stack serves the API on. */
  port: number;
  /** Emulators for the local stack and tests. */
  emulators: EmulatorChoice;
  /** Topic the API publishes to. */
  topic: string;
  /** Topic of messages that wait (see topology.delayTopic). */
  delayTopic: string;
  retry: RetryConfig;
  /** Prefix for Firestore collection names, so test runs never collide. */
  collectionPrefix: string;
  /** An article `done` more recently than this is not fetched again. */
  freshnessWindowMs: number;
  fetch: FetchConfig;
  api: ApiConfig;
  /** Verification of push requests on scrapeArticle and recordDeadLetter; null when off. */
  push: PushAuthConfig | null;
}

/** Thrown for a variable that is set to something unusable; names the variable and what it takes. */
export class ConfigError extends Error {
  readonly code = 'invalid-config';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function present(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = present(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
}

function ports(env: Env, name: string, fallback: number[]): number[] {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const list = raw.split(',').map((part) => part.trim());
  if (list.some((part) => !/^\d+$/.test(part) || Number(part) < 1 || Number(part) > 65535)) {
    throw new ConfigError(name, `expected a comma-separated list of ports from 1 to 65535, got "${raw}"`);
  }
  return list.map(Number);
}

function resourceName(env: Env, name: string, fallback: string): string {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  if (!/^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/.test(raw)) {
    throw new ConfigError(name, `expected 3–255 letters, digits or - . _ ~ + %, starting with a letter, got "${raw}"`);
  }
  return raw;
}

function baseUrl(env: Env, name: string): string | null {
  const raw = present(env, name);
  if (raw === undefined) return null;
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // reported below
  }
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError(name, `expected an http(s) URL without credentials, query or fragment, such as https://api.example.com, got "${raw}"`);
  }
  return url.href.replace(/\/+$/, '');
}

function pushAuth(env: Env): PushAuthConfig | null {
  const audience = present(env, 'PUSH_AUDIENCE');
  const serviceAccount = present(env, 'PUSH_SERVICE_ACCOUNT');
  if (audience === undefined && serviceAccount === undefined) return null;
  if (audience === undefined) throw new ConfigError('PUSH_AUDIENCE', 'expected the function\'s URL (the audience of its push tokens) when PUSH_SERVICE_ACCOUNT is set');
  if (serviceAccount === undefined || !/^[^@\s]+@[^@\s]+$/.test(serviceAccount)) {
    throw new ConfigError('PUSH_SERVICE_ACCOUNT', `expected the push service account's email when PUSH_AUDIENCE is set, got "${serviceAccount ?? ''}"`);
  }
  const jwksUrl = present(env, 'PUSH_JWKS_URL') ?? GOOGLE_JWKS_URL;
  let url: URL | null = null;
  try {
    url = new URL(jwksUrl);
  } catch {
    // reported below
  }
  // Plain http only to this machine (the local emulator's keys).
  const loopback = url !== null && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url === null || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) || url.username !== '' || url.password !== '') {
    throw new ConfigError('PUSH_JWKS_URL', `expected an https URL (http only on loopback) of a JWKS, got "${jwksUrl}"`);
  }
  return { audience, serviceAccount, jwksUrl: url.href };
}

/**
 * Of the scraper function's timeout, what is kept for extraction and the Firestore write after the
 * longest fetch (host wait + fetch deadline). Extraction of a 5 MiB page takes ~1 s; a write that
 * needs Firestore's own retries a few more.
 */
export const EXTRACT_AND_WRITE_RESERVE_MS = 10_000;

export const DEFAULT_USER_AGENT =
  'PortfolioScraper/0.1 (+https://github.com/portfolio-scraper/portfolio-scraper; builds article portfolios on request)';

/**
 * `COMPILE_CACHE=write`: set only by the build-time warm-up (coldstart/warmup.ts), which asks the
 * preloaded code cache to record what it compiles and store it on SIGTERM. Anything else: read it.
 */
export function compileCacheMode(env: Env = process.env): 'read' | 'write' {
  return present(env, 'COMPILE_CACHE') === 'write' ? 'write' : 'read';
}

/** Reads and validates the environment. Throws `ConfigError` naming the first bad variable. */
export function parseConfig(env: Env = process.env): Config {
  const projectId = present(env, 'GOOGLE_CLOUD_PROJECT') ?? present(env, 'GCLOUD_PROJECT') ?? 'local-project';
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(projectId)) {
    throw new ConfigError('GOOGLE_CLOUD_PROJECT', `expected a project id (6–30 lower-case letters, digits or hyphens), got "${projectId}"`);
  }
  const collectionPrefix = present(env, 'COLLECTION_PREFIX') ?? '';
  if (!/^[A-Za-z0-9_-]*$/.test(collectionPrefix)) {
    throw new ConfigError('COLLECTION_PREFIX', `expected letters, digits, - or _, got "${collectionPrefix}"`);
  }
  const fetchTimeoutMs = integer(env, 'FETCH_TIMEOUT_MS', 20_000, 100, 300_000);
  const hostWaitTimeoutMs = integer(env, 'FETCH_HOST_WAIT_TIMEOUT_MS', 20_000, 0, 300_000);
  const scraperMs = topology.scraperTimeoutSeconds * 1000;
  if (hostWaitTimeoutMs + fetchTimeoutMs + EXTRACT_AND_WRITE_RESERVE_MS > scraperMs) {
    throw new ConfigError(
      'FETCH_HOST_WAIT_TIMEOUT_MS',
      `${hostWaitTimeoutMs} ms of waiting for a host slot plus the FETCH_TIMEOUT_MS of ${fetchTimeoutMs} ms must leave ` +
        `${EXTRACT_AND_WRITE_RESERVE_MS / 1000} s of the scraper's ${topology.scraperTimeoutSeconds} s timeout for extraction and the write; ` +
        `expected at most ${Math.max(0, scraperMs - EXTRACT_AND_WRITE_RESERVE_MS - fetchTimeoutMs)}`,
    );
  }
  return {
    projectId,
    port: integer(env, 'PORT', 8080, 0, 65535),
    emulators: oneOf(env, 'EMULATORS', ['auto', 'gcloud', 'embedded'] as const, 'auto'),
    topic: resourceName(env, 'ARTICLE_TOPIC', topology.topic),
    delayTopic: resourceName(env, 'DELAY_TOPIC', topology.delayTopic),
    retry: {
      maxDeliveryAttempts: integer(env, 'MAX_DELIVERY_ATTEMPTS', topology.maxDeliveryAttempts, 5, 100),
      retryAfterMaxMs: integer(env, 'RETRY_AFTER_MAX_SECONDS', topology.retryAfterMaxSeconds, 0, 3600) * 1000,
      hostBackoffBaseMs: integer(env, 'HOST_BACKOFF_BASE_SECONDS', 10, 1, 3600) * 1000,
      requeueDelayMs: integer(env, 'REQUEUE_DELAY_SECONDS', topology.requeue.production.delaySeconds, 0, 3600) * 1000,
      requeueMaxDelayMs: integer(env, 'REQUEUE_MAX_DELAY_SECONDS', topology.requeue.production.maxDelaySeconds, 0, 3600) * 1000,
      maxRequeues: integer(env, 'MAX_REQUEUES', topology.requeue.maxRequeues, 0, 1000),
      // The longest a fetch may take: its wait for a host slot, its deadline, extraction and the write.
      fetchLeaseMs: hostWaitTimeoutMs + fetchTimeoutMs + EXTRACT_AND_WRITE_RESERVE_MS,
    },
    collectionPrefix,
    freshnessWindowMs: integer(env, 'FRESHNESS_WINDOW_HOURS', 24, 0, 24 * 365) * 3_600_000,
    fetch: {
      userAgent: present(env, 'USER_AGENT') ?? DEFAULT_USER_AGENT,
      timeoutMs: fetchTimeoutMs,
      hostWaitTimeoutMs,
      connectTimeoutMs: integer(env, 'FETCH_CONNECT_TIMEOUT_MS', 5_000, 50, 60_000),
      headersTimeoutMs: integer(env, 'FETCH_HEADERS_TIMEOUT_MS', 10_000, 50, 120_000),
      bodyIdleTimeoutMs: integer(env, 'FETCH_BODY_IDLE_TIMEOUT_MS', 10_000, 50, 120_000),
      maxBytes: integer(env, 'FETCH_MAX_BYTES', 5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
      maxRedirects: integer(env, 'FETCH_MAX_REDIRECTS', 5, 0, 20),
      perHostConcurrency: integer(env, 'FETCH_PER_HOST_CONCURRENCY', 4, 1, 256),
      allowedPorts: ports(env, 'FETCH_ALLOWED_PORTS', [80, 443]),
      allowPrivateNetworks: boolean(env, 'ALLOW_PRIVATE_NETWORKS', false),
    },
    api: {
      maxUrls: integer(env, 'MAX_URLS_PER_REQUEST', 1000, 1, 100_000),
      maxBodyBytes: integer(env, 'MAX_REQUEST_BYTES', 1024 * 1024, 1024, 32 * 1024 * 1024),
      publicBaseUrl: baseUrl(env, 'PUBLIC_BASE_URL'),
    },
    push: pushAuth(env),
  };
}
