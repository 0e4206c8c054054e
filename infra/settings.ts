/**
 * The stack's configuration: every `pulumi config` key, its default and its validation, in one
 * place. Nothing is created before this has passed, so a typo fails `pulumi preview` at once with
 * the key's name instead of half-way through `pulumi up` with a provider error.
 */
import { ConfigError, parseConfig } from '../functions/src/config';
import { topology, type RetryBackoff } from '../functions/src/topology';
import { capacityPlan, DEFAULT_CAPACITY, FIRESTORE_RAMP_WRITES_PER_SECOND, type CapacityPlan, type FunctionCapacity } from './capacity';

/**
 * Why the program refused to run: `invalid-config` (a config key), `missing-build` (no compiled
 * code) or `invalid-lockfile` (package-lock.json missing or not describing the runtime dependencies).
 */
export type InfraErrorCode = 'invalid-config' | 'missing-build' | 'invalid-lockfile';

/** Thrown before any resource is declared; `key` names the `pulumi config` key to fix, when there is one. */
export class InfraError extends Error {
  constructor(
    readonly code: InfraErrorCode,
    message: string,
    readonly key?: string,
  ) {
    super(key === undefined ? message : `${key}: ${message}`);
    this.name = 'InfraError';
  }
}

/** Sizing of one function. */
export interface FunctionSizing {
  /** Memory per instance, e.g. `512Mi`. */
  memory: string;
  /** Upper bound on instances per function (also caps what a flood of URLs can cost). */
  maxInstances: number;
  /** Requests one instance serves at once. */
  concurrency: number;
}

/** The validated settings the program builds from. */
export interface InfraSettings {
  /** Google Cloud project id (`gcp:project`). */
  project: string;
  /** Region of the functions and the source bucket (`gcp:region`). */
  region: string;
  /** Firestore location (a region or a multi-region such as `eur3`). */
  firestoreLocation: string;
  maxDeliveryAttempts: number;
  backoff: RetryBackoff;
  ackDeadlineSeconds: number;
  /** Timeouts of the three functions, in seconds. */
  timeouts: { api: number; scraper: number; recorder: number };
  /** Memory per instance, e.g. `512Mi` (every function). */
  memory: string;
  /** Instances and concurrency of each function and the sums they imply (infra/capacity.ts). */
  capacity: CapacityPlan;
  /** Whether anyone on the internet may call the API (grants `allUsers` run.invoker). */
  publicApi: boolean;
  /** Members (e.g. `user:ana@example.com`) allowed to call the private API. */
  apiInvokers: string[];
  /** Directory `npm run build` writes to, relative to the repository root unless absolute. */
  sourceDir: string;
  /** Environment of every function, exactly what `parseConfig` reads. */
  functionEnv: Record<string, string>;
  /** Alert thresholds and where alerts go. */
  monitoring: MonitoringSettings;
}

/** Alerting settings (README "Deploy" says what each alert means). */
export interface MonitoringSettings {
  /** E-mail address alerts are sent to; none: incidents only show in Cloud Monitoring. */
  alertEmail?: string;
  /** The URL subscription's oldest unacknowledged message may be this old before an alert. */
  oldestUnackedAgeSeconds: number;
  /** Share (0–1) of 5xx answers of the scraper over 10 minutes that raises an alert. */
  scraperErrorRatio: number;
}

/** Where settings come from: the program's own namespace and the gcp provider's (`gcp:*`). */
export interface ConfigSource {
  app(key: string): string | undefined;
  gcp(key: string): string | undefined;
}

/** Memory sizes offered; all of them run with one vCPU, which concurrency above 1 requires. */
export const MEMORY_SIZES = ['256Mi', '512Mi', '1Gi', '2Gi', '4Gi'] as const;

function invalid(key: string, message: string): InfraError {
  return new InfraError('invalid-config', message, key);
}

function integer(source: ConfigSource, key: string, fallback: number, min: number, max: number): number {
  const raw = source.app(key)?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw invalid(key, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function boolean(source: ConfigSource, key: string, fallback: boolean): boolean {
  const raw = source.app(key)?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw invalid(key, `expected true or false, got "${raw}"`);
}

/** A list in YAML arrives as JSON text; a plain string is taken as comma-separated. */
function list(source: ConfigSource, key: string): string[] {
  const raw = source.app(key)?.trim();
  if (raw === undefined || raw === '') return [];
  if (raw.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw invalid(key, `expected a list of strings, got "${raw}"`);
    }
    if (!Array.isArray(parsed) || parsed.some((item) => typeof item !== 'string')) {
      throw invalid(key, `expected a list of strings, got "${raw}"`);
    }
    return (parsed as string[]).map((item) => item.trim());
  }
  return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function required(source: ConfigSource, key: string, pattern: RegExp, shape: string): string {
  const raw = source.gcp(key)?.trim();
  if (raw === undefined || raw === '') {
    throw invalid(`gcp:${key}`, `not set; run \`pulumi config set gcp:${key} <value>\``);
  }
  if (!pattern.test(raw)) throw invalid(`gcp:${key}`, `expected ${shape}, got "${raw}"`);
  return raw;
}

/** Reads, defaults and validates every key. Throws `InfraError` naming the first bad key. */
export function readSettings(source: ConfigSource): InfraSettings {
  const project = required(source, 'project', /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a project id (6–30 lower-case letters, digits or hyphens)');
  const region = required(source, 'region', /^[a-z]+-[a-z]+\d+$/, 'a region such as europe-west1');

  const maxDeliveryAttempts = integer(source, 'maxDeliveryAttempts', topology.maxDeliveryAttempts, 5, 100);
  const backoff: RetryBackoff = {
    minimumBackoffSeconds: integer(source, 'minimumBackoffSeconds', topology.productionBackoff.minimumBackoffSeconds, 0, 600),
    maximumBackoffSeconds: integer(source, 'maximumBackoffSeconds', topology.productionBackoff.maximumBackoffSeconds, 0, 600),
  };
  if (backoff.minimumBackoffSeconds > backoff.maximumBackoffSeconds) {
    throw invalid(
      'minimumBackoffSeconds',
      `must not exceed maximumBackoffSeconds (${backoff.minimumBackoffSeconds} > ${backoff.maximumBackoffSeconds})`,
    );
  }

  // Pub/Sub caps a push acknowledgement deadline at 600 s; the scraper must finish inside it,
  // or a slow but successful scrape is redelivered while still running.
  const ackDeadlineSeconds = integer(source, 'ackDeadlineSeconds', topology.ackDeadlineSeconds, 10, 600);
  const scraperTimeout = integer(source, 'scraperTimeoutSeconds', topology.scraperTimeoutSeconds, 1, 600);
  if (scraperTimeout >= ackDeadlineSeconds) {
    throw invalid(
      'scraperTimeoutSeconds',
      `must be shorter than ackDeadlineSeconds (${scraperTimeout} ≥ ${ackDeadlineSeconds}), or a slow scrape is delivered twice`,
    );
  }
  const timeouts = { api: topology.apiTimeoutSeconds, scraper: scraperTimeout, recorder: topology.recorderTimeoutSeconds };
  if (timeouts.recorder >= ackDeadlineSeconds) {
    throw invalid('ackDeadlineSeconds', `must exceed the recorder's timeout of ${timeouts.recorder} s`);
  }

  const memory = source.app('functionMemory')?.trim() || '512Mi';
  if (!(MEMORY_SIZES as readonly string[]).includes(memory)) {
    throw invalid('functionMemory', `expected one of ${MEMORY_SIZES.join(', ')}, got "${memory}"`);
  }
  // `functionMaxInstances` / `functionConcurrency` size every function; `<function>MaxInstances` /
  // `<function>Concurrency` override one.
  const sized = (fn: 'api' | 'scraper' | 'recorder'): FunctionCapacity => ({
    maxInstances: integer(source, `${fn}MaxInstances`, integer(source, 'functionMaxInstances', DEFAULT_CAPACITY[fn].maxInstances, 1, 1000), 1, 1000),
    concurrency: integer(source, `${fn}Concurrency`, integer(source, 'functionConcurrency', DEFAULT_CAPACITY[fn].concurrency, 1, 1000), 1, 1000),
  });

  const publicApi = boolean(source, 'publicApi', false);
  const apiInvokers = list(source, 'apiInvokers');
  for (const member of apiInvokers) {
    if (member === 'allUsers' || member === 'allAuthenticatedUsers') {
      throw invalid('apiInvokers', `"${member}" would make the API public; set publicApi to true instead if that is intended`);
    }
    if (!/^(user|group|serviceAccount|domain|principal|principalSet):\S+$/.test(member)) {
      throw invalid('apiInvokers', `expected IAM members such as user:ana@example.com, got "${member}"`);
    }
  }

  const freshnessWindowHours = source.app('freshnessWindowHours')?.trim() || '24';
  const functionEnv: Record<string, string> = {
    GOOGLE_CLOUD_PROJECT: project,
    ARTICLE_TOPIC: topology.topic,
    DELAY_TOPIC: topology.delayTopic,
    // The scraper ends a round after as many fetches as the subscription has delivery attempts.
    MAX_DELIVERY_ATTEMPTS: String(maxDeliveryAttempts),
    FRESHNESS_WINDOW_HOURS: freshnessWindowHours,
    // functions-framework answers body-parser errors (malformed JSON…) itself, with a stack
    // trace in the page unless NODE_ENV is production.
    NODE_ENV: 'production',
  };
  // Validate the functions' environment with the parser the functions run, so a value they would
  // reject at cold start is rejected here instead.
  let functionConfig;
  try {
    functionConfig = parseConfig(functionEnv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const key = error.variable === 'FRESHNESS_WINDOW_HOURS' ? 'freshnessWindowHours' : error.variable;
    throw invalid(key, error.message.slice(error.variable.length + 2));
  }
  const capacity = capacityPlan({ api: sized('api'), scraper: sized('scraper'), recorder: sized('recorder') }, functionConfig.fetch.perHostConcurrency);
  if (capacity.sums.firestoreWritesPerSecondAt1s > FIRESTORE_RAMP_WRITES_PER_SECOND) {
    throw invalid(
      'scraperMaxInstances',
      `the scraper's and recorder's instances × concurrency (${capacity.sums.deliveriesInFlight} + ${capacity.sums.deadLettersInFlight} deliveries in flight) could write ${capacity.sums.firestoreWritesPerSecondAt1s} documents per second, above the ${FIRESTORE_RAMP_WRITES_PER_SECOND}/s Firestore advises for a new collection; lower scraperMaxInstances or scraperConcurrency`,
    );
  }
  // A page may wait for a host slot and then use its whole fetch deadline (functions/src/fetch).
  const { hostWaitTimeoutMs, timeoutMs } = functionConfig.fetch;
  if (scraperTimeout * 1000 <= hostWaitTimeoutMs + timeoutMs) {
    throw invalid(
      'scraperTimeoutSeconds',
      `must exceed the host-slot wait of ${hostWaitTimeoutMs / 1000} s plus the fetch deadline of ${timeoutMs / 1000} s, or every slow page times the function out`,
    );
  }

  // A message may legitimately stay unacknowledged through every attempt (each up to the ack
  // deadline) and every backoff between them; older than that, deliveries are not happening.
  const longestRetrySeconds = maxDeliveryAttempts * (ackDeadlineSeconds + backoff.maximumBackoffSeconds);
  const alertEmail = source.app('alertEmail')?.trim() || undefined;
  if (alertEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alertEmail)) {
    throw invalid('alertEmail', `expected an e-mail address, got "${alertEmail}"`);
  }
  const monitoring: MonitoringSettings = {
    ...(alertEmail === undefined ? {} : { alertEmail }),
    oldestUnackedAgeSeconds: integer(source, 'backlogAlertAgeSeconds', longestRetrySeconds, 60, 7 * 24 * 3600),
    scraperErrorRatio: integer(source, 'scraperErrorRatePercent', 20, 1, 100) / 100,
  };

  return {
    project,
    region,
    firestoreLocation: source.app('firestoreLocation')?.trim() || region,
    maxDeliveryAttempts,
    backoff,
    ackDeadlineSeconds,
    timeouts,
    memory,
    capacity,
    publicApi,
    apiInvokers,
    sourceDir: source.app('sourceDir')?.trim() || 'dist',
    functionEnv,
    monitoring,
  };
}
