/**
 * A chaos run of the whole pipeline: the fault site's pages, submitted as many portfolios through the
 * API of a local stack, until every accepted URL is terminal; then every outcome is checked against
 * what the site promised, from state a user can see — the API's portfolio views, the article
 * documents read back from Firestore, and the site's own request counters.
 *
 * Used by `chaos.test.ts` (small, inside `npm test`) and `chaos-cli.ts` (`npm run chaos`, 10,000 URLs).
 * A {@link Disturbance} (a storage outage, a crashed scraper) can be played in the middle of a run.
 * The site's rate-limiting host is part of every run (check `retry-after`).
 */
import { loadavg } from 'node:os';
import { startEmulators, type EmulatorChoice, type RunningEmulators } from '../../emulator';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../emulator/stack';
import { fetchPage } from '../../functions/src/fetch';
import type { LogEntry } from '../../functions/src/log';
import type { RetryBackoff } from '../../functions/src/topology';
import { canonicalizeUrl, urlKey } from '../../functions/src/urls';
import { seededRandom, startFaultSite, type FaultCategory, type FaultPage, type FaultSite, type FaultSiteOptions } from './fault-site';

process.env.METADATA_SERVER_DETECTION ??= 'none';

/** Something done to the running system once part of the URLs are terminal. */
export interface Disturbance {
  /** What it does, for the report (e.g. "Firestore stopped for 3 s"). */
  name: string;
  /** Starts once this fraction of the accepted URLs is terminal (0–1). */
  atTerminalFraction: number;
  /**
   * Does it; resolves once the system is whole again, with figures for the report and the time
   * window (epoch ms) it was broken, which the run compares with when articles became terminal.
   */
  run(context: { stack: LocalStack; emulators: RunningEmulators; site: FaultSite }): Promise<{ figures: Record<string, string>; window: { from: number; to: number } }>;
}

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /** Distinct URLs (pages of the fault site). */
  urls: number;
  seed: number;
  /** URLs per portfolio (each portfolio is one POST /portfolios); at most 1,000 with resubmissions. */
  portfolioSize?: number;
  /** Fraction of the URLs submitted a second time, spelled differently, in another portfolio. Default 0.05. */
  resubmitted?: number;
  mix?: FaultSiteOptions['mix'];
  maxTransientFailures?: number;
  /** Host names of the fault site (0 = 127.0.0.1 itself, needed when the scraper has no injected resolver). */
  hosts?: number;
  /** Emulators already running (a test lane's), else `emulators` are started for the run. */
  running?: RunningEmulators;
  emulators?: EmulatorChoice;
  /** Pushes in flight per subscription (embedded Pub/Sub, only when the run starts its emulators). */
  pushConcurrency?: number;
  backoff?: RetryBackoff;
  maxDeliveryAttempts?: number;
  /** Fetch limits, as the scraper's environment (FETCH_*); see {@link chaosFetchEnv}. */
  fetchEnv?: Record<string, string>;
  /** Gives up waiting for every URL to be terminal after this long. */
  settleTimeoutMs: number;
  disturbance?: Disturbance;
  /** Progress lines (the CLI prints them; tests leave them out). */
  progress?: (line: string) => void;
  /** Extra options of the stack (e.g. the scraper in its own process). */
  stack?: Partial<LocalStackOptions>;
}

/**
 * Fetch limits sized for a local run: a hang ends at the 2 s header timeout instead of 10 s, oversized
 * pages are cut at 256 KiB, and per-host slots exceed the pushes in flight, so no page waits for a
 * slot. The overall deadline stays roomy: with everything in one busy process a hop takes 0.5–1 s
 * (measured), and a six-hop redirect loop must not time out on its way to too-many-redirects.
 */
export const chaosFetchEnv: Record<string, string> = {
  FETCH_TIMEOUT_MS: '10000',
  FETCH_CONNECT_TIMEOUT_MS: '5000',
  FETCH_HEADERS_TIMEOUT_MS: '2000',
  FETCH_BODY_IDLE_TIMEOUT_MS: '2000',
  FETCH_MAX_BYTES: String(256 * 1024),
  FETCH_MAX_REDIRECTS: '5',
  FETCH_PER_HOST_CONCURRENCY: '128',
  // The rate-limiting host's 429s close it for 1 s doubling per 429 in a row (10 s doubling by default):
  // seconds of waiting in a run of minutes, not minutes.
  HOST_BACKOFF_BASE_SECONDS: '1',
};

/**
 * The full run (`npm run chaos`, `npm run bench -- chaos`): 10,000 URLs, the fault site's default mix
 * (20 % transient, 5 % permanent, 2 % never succeed), 200 URLs per portfolio, the scraper as its own
 * service of two processes (in the stack's process it shares one core with everything else, and the
 * load turned a fifth of its fetches into timeouts the site never caused).
 */
export const fullRun = { urls: 10_000, seed: 1, portfolioSize: 200, pushConcurrency: 64, scraperProcesses: 2, settleTimeoutS: 1800 };

/** Options of {@link runChaos} for a scraper in `processes` processes of its own (0 = in the stack's process). */
export function scraperPlacement(processes: number): Partial<ChaosOptions> {
  return processes > 0 ? { hosts: 0, stack: { functionProcesses: 'scraper', scraperInstances: processes } } : {};
}

/** One assertion of the run. */
export interface ChaosCheck {
  /** Stable id: terminal, lost, duplicates, as-promised, views, dead-letters, transient, requests. */
  id: string;
  name: string;
  ok: boolean;
  /** The figures behind it, and the first offenders when it fails. */
  detail: string;
}

/** Pages of one category and how they ended. */
export interface CategoryRow {
  category: FaultCategory;
  pages: number;
  done: number;
  /** failed, by error code */
  failed: Record<string, number>;
  /** pages that ended as the site promised */
  asPromised: number;
  /** requests the site received for these pages */
  requests: number;
}

/** What a chaos run measured and concluded. */
export interface ChaosReport {
  kind: string;
  seed: number;
  urls: number;
  portfolios: number;
  /** URLs accepted over all portfolios (resubmissions counted in each portfolio). */
  accepted: number;
  resubmitted: number;
  rows: CategoryRow[];
  /** First POST until the last article became terminal (its `terminalAt`). */
  wallMs: number;
  /** First POST until every portfolio view showed nothing queued. */
  settledMs: number;
  /** All POST /portfolios answered. */
  submitMs: number;
  pagesPerSecond: number;
  siteRequests: number;
  /** Failing answers the site gave (transient pages' first k, every answer of a never-succeeding page). */
  siteFailures: number;
  /** Scraper deliveries by outcome (and retry code), from the functions' log when in process. */
  deliveries: Record<string, number>;
  loadAverage: { start: number; end: number };
  disturbance?: { name: string; figures: Record<string, string> };
  checks: ChaosCheck[];
  ok: boolean;
}

export interface PortfolioView {
  portfolioId: string;
  counts: { queued: number; done: number; failed: number };
  articles: Array<{ url: string; status: string; attempts: number; error?: { code: string } }>;
}

export interface Submission {
  portfolioId: string;
  /** Canonical URLs accepted, in order. */
  urls: string[];
}

export interface StoredArticle {
  id: string;
  canonicalUrl: string;
  status: string;
  code: string | null;
  attempts: number;
  title: string | null;
  terminalAt: number | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items`, at most `limit` at a time. */
async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index] as T);
      }
    }),
  );
  return results;
}

function canonical(url: string): string {
  const result = canonicalizeUrl(url);
  if (!result.ok) throw new Error(`${url} is not a valid URL: ${result.message}`);
  return result.canonicalUrl;
}

/** Another spelling of the same page: tracking parameters and a fragment the API must strip. */
function respelled(url: string, index: number): string {
  return `${url}?utm_source=chaos&utm_campaign=resubmit-${index}#section-${index % 7}`;
}

/** Splits the pages into portfolios; a seeded sample is submitted again, respelled, in a later one. */
export function planPortfolios(pages: readonly FaultPage[], options: { seed: number; portfolioSize: number; resubmitted: number }): { portfolios: string[][]; resubmitted: Set<string> } {
  const count = Math.max(1, Math.ceil(pages.length / options.portfolioSize));
  const portfolios: string[][] = Array.from({ length: count }, () => []);
  pages.forEach((page, index) => portfolios[Math.floor(index / options.portfolioSize)]?.push(page.url));
  const random = seededRandom(options.seed ^ 0x5eed);
  const resubmitted = new Set<string>();
  const wanted = Math.round(pages.length * options.resubmitted);
  for (let index = 0; resubmitted.size < wanted && index < pages.length * 4; index++) {
    const pageIndex = Math.floor(random() * pages.length);
    const page = pages[pageIndex];
    if (!page || resubmitted.has(page.url)) continue;
    resubmitted.add(page.url);
    // Another portfolio (the next one, or the same when there is only one, where it is a duplicate the API folds).
    const target = count === 1 ? 0 : (Math.floor(pageIndex / options.portfolioSize) + 1) % count;
    portfolios[target]?.push(respelled(page.url, pageIndex));
  }
  return { portfolios, resubmitted };
}

async function api(stack: LocalStack, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${stack.apiUrl}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

async function submit(stack: LocalStack, urls: string[], name: string): Promise<Submission> {
  const response = await api(stack, '/portfolios', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, urls }),
  });
  const body = response.body as { portfolioId?: string; accepted?: number; duplicates?: number; rejected?: unknown[] };
  if (response.status !== 202 || typeof body?.portfolioId !== 'string') {
    throw new Error(`POST /portfolios (${name}) answered ${response.status}: ${JSON.stringify(body).slice(0, 500)}`);
  }
  const distinct = [...new Set(urls.map(canonical))];
  if (body.accepted !== distinct.length || (body.rejected?.length ?? 0) !== 0) {
    throw new Error(`POST /portfolios (${name}) accepted ${body.accepted} of ${distinct.length} distinct URLs: ${JSON.stringify(body).slice(0, 500)}`);
  }
  return { portfolioId: body.portfolioId, urls: distinct };
}

/** GET /portfolios/{id}; null while the API can't answer (e.g. storage is down). */
async function view(stack: LocalStack, portfolioId: string): Promise<PortfolioView | null> {
  try {
    const response = await api(stack, `/portfolios/${portfolioId}`);
    return response.status === 200 ? (response.body as PortfolioView) : null;
  } catch {
    return null;
  }
}

/** Every article document of the run's project, read back. */
async function storedArticles(stack: LocalStack): Promise<StoredArticle[]> {
  const collection = stack.clients.firestore.collection(`${stack.config.collectionPrefix}articles`);
  const snapshot = await collection.get();
  return snapshot.docs.map((doc) => {
    const data = doc.data();
    const terminalAt = data.terminalAt as { toMillis?: () => number } | null | undefined;
    return {
      id: doc.id,
      canonicalUrl: String(data.canonicalUrl ?? ''),
      status: String(data.status ?? ''),
      code: typeof data.lastError?.code === 'string' ? data.lastError.code : null,
      attempts: typeof data.attempts === 'number' ? data.attempts : 0,
      title: typeof data.title === 'string' ? data.title : null,
      terminalAt: typeof terminalAt?.toMillis === 'function' ? terminalAt.toMillis() : null,
    };
  });
}

function sample(items: string[], max = 5): string {
  return items.length === 0 ? '' : ` — e.g. ${items.slice(0, max).join('; ')}${items.length > max ? ` (+${items.length - max} more)` : ''}`;
}

/** Site requests one fetch of a page makes (redirect hops are counted on their page). */
function requestsPerFetch(page: FaultPage, maxRedirects: number): number {
  if (page.kind === 'redirect-ok') return 2;
  if (page.kind === 'redirect-loop') return maxRedirects + 1;
  return 1;
}

/** Everything the run must show; the checks a user would notice failing. */
export function evaluate(input: {
  site: FaultSite;
  submissions: Submission[];
  views: Map<string, PortfolioView | null>;
  articles: StoredArticle[];
  resubmitted: Set<string>;
  /** Each URL's deliveries as the scraper logged them (in-process scrapers only), to explain offenders. */
  history?: Map<string, string[]>;
  maxDeliveryAttempts: number;
  maxRedirects: number;
  disturbed: boolean;
}): { checks: ChaosCheck[]; rows: CategoryRow[] } {
  const { site, submissions, views, articles, resubmitted, maxDeliveryAttempts } = input;
  const deliveriesOf = (url: string): string => {
    const seen = input.history?.get(url);
    return seen ? ` [deliveries: ${seen.join(', ')}]` : '';
  };
  const checks: ChaosCheck[] = [];
  const byUrl = new Map<string, StoredArticle[]>();
  for (const article of articles) byUrl.set(article.canonicalUrl, [...(byUrl.get(article.canonicalUrl) ?? []), article]);
  const accepted = submissions.reduce((sum, submission) => sum + submission.urls.length, 0);

  // 1. Every accepted URL terminal, in every portfolio's view, and the counts add up.
  const notTerminal: string[] = [];
  let terminal = 0;
  for (const submission of submissions) {
    const portfolio = views.get(submission.portfolioId);
    if (!portfolio) {
      notTerminal.push(`portfolio ${submission.portfolioId} could not be read`);
      continue;
    }
    const { counts } = portfolio;
    if (counts.queued !== 0 || counts.done + counts.failed !== submission.urls.length || portfolio.articles.length !== submission.urls.length) {
      notTerminal.push(`portfolio ${submission.portfolioId}: ${JSON.stringify(counts)} of ${submission.urls.length}`);
    }
    for (const entry of portfolio.articles) {
      if (entry.status === 'done' || entry.status === 'failed') terminal += 1;
      else notTerminal.push(`${entry.url} ${entry.status}`);
    }
  }
  checks.push({ id: 'terminal', name: 'every accepted URL terminal (done or failed)', ok: notTerminal.length === 0 && terminal === accepted, detail: `${terminal} of ${accepted} terminal${sample(notTerminal)}` });

  // 2. Nothing lost: each portfolio lists exactly what it accepted, and each URL has its document.
  const lost: string[] = [];
  for (const submission of submissions) {
    const listed = new Set(views.get(submission.portfolioId)?.articles.map((entry) => entry.url) ?? []);
    for (const url of submission.urls) if (!listed.has(url)) lost.push(`${url} missing from portfolio ${submission.portfolioId}`);
  }
  for (const page of site.pages) {
    const stored = byUrl.get(page.url);
    if (!stored?.some((article) => article.status === 'done' || article.status === 'failed')) lost.push(`${page.url} has no terminal document`);
  }
  checks.push({ id: 'lost', name: 'nothing lost', ok: lost.length === 0, detail: `${lost.length} lost${sample(lost)}` });

  // 3. One document per URL, under the key of its canonical URL.
  const duplicates: string[] = [];
  for (const [url, stored] of byUrl) {
    if (stored.length > 1) duplicates.push(`${url} ×${stored.length}`);
    for (const article of stored) if (article.id !== urlKey(url)) duplicates.push(`${url} stored under ${article.id}`);
  }
  checks.push({
    id: 'duplicates', name: 'no duplicate article documents',
    ok: duplicates.length === 0 && articles.length === site.pages.length,
    detail: `${articles.length} documents for ${site.pages.length} URLs, ${duplicates.length} duplicated${sample(duplicates)}`,
  });

  // 4. Every page ends as the site promised; the portfolio views agree with the documents.
  const rows = new Map<FaultCategory, CategoryRow>();
  const wrong: string[] = [];
  const disagree: string[] = [];
  const documentStatus = new Map<string, string>();
  for (const page of site.pages) {
    const row = rows.get(page.category) ?? { category: page.category, pages: 0, done: 0, failed: {}, asPromised: 0, requests: 0 };
    rows.set(page.category, row);
    row.pages += 1;
    row.requests += site.requests(page.url);
    const stored = byUrl.get(page.url)?.[0];
    if (stored?.status === 'done') row.done += 1;
    else if (stored?.status === 'failed') row.failed[stored.code ?? 'unknown'] = (row.failed[stored.code ?? 'unknown'] ?? 0) + 1;
    if (stored) documentStatus.set(page.url, stored.status);
    const expected = page.expected;
    const asPromised =
      stored !== undefined && stored.status === expected.status && (expected.status === 'done' ? stored.title === page.title : stored.code === expected.code);
    if (asPromised) row.asPromised += 1;
    else wrong.push(`${page.kind} ${page.url}: expected ${expected.status === 'done' ? 'done' : `failed ${expected.code}`}, got ${stored ? `${stored.status} ${stored.code ?? ''} ${stored.status === 'done' ? JSON.stringify(stored.title) : ''}` : 'nothing'}${deliveriesOf(page.url)}`);
  }
  for (const portfolio of views.values()) {
    for (const entry of portfolio?.articles ?? []) {
      if (documentStatus.get(entry.url) !== entry.status) disagree.push(`${entry.url}: view ${entry.status}, document ${documentStatus.get(entry.url)}`);
    }
  }
  checks.push({ id: 'as-promised', name: 'every page ends as the site promised', ok: wrong.length === 0, detail: `${site.pages.length - wrong.length} of ${site.pages.length}${sample(wrong)}` });
  checks.push({ id: 'views', name: 'portfolio views agree with the documents', ok: disagree.length === 0, detail: `${disagree.length} disagree${sample(disagree)}` });

  // 5. Dead letters: exactly the never-succeeding pages, each after the full number of attempts.
  const never = site.pages.filter((page) => page.category === 'never');
  const deadLettered = articles.filter((article) => article.code === 'dead-lettered');
  const wrongAttempts = deadLettered.filter((article) => article.attempts !== maxDeliveryAttempts).map((article) => `${article.canonicalUrl} attempts ${article.attempts}`);
  checks.push({
    id: 'dead-letters', name: 'dead-lettered count equals the never-succeeding count',
    ok: deadLettered.length === never.length && wrongAttempts.length === 0,
    detail: `${deadLettered.length} dead-lettered, ${never.length} never succeed${sample(wrongAttempts)}`,
  });

  // 6. Transient pages: done, and the site saw their k failures and then the success.
  const transient = site.pages.filter((page) => page.category === 'transient');
  const unhealed: string[] = [];
  for (const page of transient) {
    const requests = site.requests(page.url);
    if (byUrl.get(page.url)?.[0]?.status !== 'done' || requests < page.failuresBeforeHealthy + 1) unhealed.push(`${page.kind} ${page.url}: ${byUrl.get(page.url)?.[0]?.status}, ${requests} requests for ${page.failuresBeforeHealthy} failures${deliveriesOf(page.url)}`);
  }
  checks.push({ id: 'transient', name: 'every transient-then-healthy URL ends done', ok: unhealed.length === 0, detail: `${transient.length - unhealed.length} of ${transient.length}${sample(unhealed)}` });

  // 7. The site's request counters follow the retry rules (URLs submitted once): a page that never
  // succeeds is asked once per delivery, so exactly maxDeliveryAttempts times; a crash or an outage
  // may cost a delivery before its fetch, so then at most that. Every page was fetched at least once.
  const offRule: string[] = [];
  for (const page of site.pages) {
    const requests = site.requests(page.url);
    if (requests < requestsPerFetch(page, input.maxRedirects) && page.category !== 'never') offRule.push(`${page.kind} ${page.url}: ${requests} requests${deliveriesOf(page.url)}`);
    if (page.category !== 'never' || resubmitted.has(page.url)) continue;
    if (input.disturbed ? requests < 1 || requests > maxDeliveryAttempts : requests !== maxDeliveryAttempts) {
      offRule.push(`${page.kind} ${page.url}: ${requests} requests, expected ${input.disturbed ? `1–${maxDeliveryAttempts}` : maxDeliveryAttempts}${deliveriesOf(page.url)}`);
    }
  }
  checks.push({
    id: 'requests', name: `site requests: every page fetched, never-succeeding ones ${input.disturbed ? 'at most' : 'exactly'} ${maxDeliveryAttempts} times`,
    ok: offRule.length === 0,
    detail: `${offRule.length} off${sample(offRule)}`,
  });

  // 8. No URL failed because of our own outage: every failed page was asked at least once, and one
  // failed for its retries (dead-lettered) as often as a round allows (at most one fewer when a
  // disturbance cut a fetch off before its request left).
  const ownFault: string[] = [];
  for (const article of articles) {
    if (article.status !== 'failed') continue;
    const page = site.page(article.canonicalUrl);
    const requests = page ? site.requests(page.url) : 0;
    const needed = article.code === 'dead-lettered' ? maxDeliveryAttempts - (input.disturbed ? 1 : 0) : 1;
    if (requests < needed) ownFault.push(`${article.canonicalUrl}: failed ${article.code} after ${requests} requests to the page${deliveriesOf(article.canonicalUrl)}`);
  }
  checks.push({ id: 'own-fault', name: 'no URL failed without fetches of its own', ok: ownFault.length === 0, detail: `${ownFault.length} failed without${sample(ownFault)}` });

  // 9. The rate-limiting host: no page asked again before the Retry-After it was given (the message
  // waits parked, on any scraper instance), and each asked a bounded number of times. Whether a 429
  // also closed the whole host is per scraper instance, so the site cannot tell it apart here; its own
  // test (retries.test.ts) runs one instance.
  const early: string[] = [];
  for (const page of site.pages) {
    const count = site.earlyRequests(page.url);
    if (count > 0) early.push(`${page.kind} ${page.url}: ${count} requests before its Retry-After${deliveriesOf(page.url)}`);
    if (page.category === 'rate-limited' && !resubmitted.has(page.url) && site.requests(page.url) > maxDeliveryAttempts) early.push(`${page.kind} ${page.url}: ${site.requests(page.url)} requests, more than ${maxDeliveryAttempts}`);
  }
  const limited = site.pages.filter((page) => page.category === 'rate-limited').length;
  checks.push({
    id: 'retry-after', name: 'Retry-After honoured: no page asked before its time, rate-limited pages asked boundedly',
    ok: early.length === 0,
    detail: `${limited} pages on the rate-limiting host, ${site.limiter.requests()} requests to it, ${site.limiter.limitedAnswers()} of them answered 429/503 with Retry-After (it limits its first ${site.limiter.limitedRequests}); ${early.length} off${sample(early)}`,
  });

  const order: FaultCategory[] = ['healthy', 'transient', 'permanent', 'never', 'rate-limited'];
  return { checks, rows: order.map((category) => rows.get(category) ?? { category, pages: 0, done: 0, failed: {}, asPromised: 0, requests: 0 }) };
}

/** Runs the pipeline over a fault site and checks every outcome. Cleans up everything it started. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const progress = options.progress ?? (() => undefined);
  const maxDeliveryAttempts = options.maxDeliveryAttempts ?? 5;
  const fetchEnv = { ...chaosFetchEnv, ...options.fetchEnv };
  const maxRedirects = Number(fetchEnv.FETCH_MAX_REDIRECTS);
  const loadAtStart = loadavg()[0] ?? 0;
  const deliveries: Record<string, number> = {};
  const history = new Map<string, string[]>();
  const log = (entry: LogEntry): void => {
    if (entry.messageId === undefined) return; // API request lines
    const key = `${entry.outcome}${entry.code && entry.outcome === 'retry' ? ` ${entry.code}` : ''}`;
    deliveries[key] = (deliveries[key] ?? 0) + 1;
    if (entry.url) history.set(entry.url, [...(history.get(entry.url) ?? []), `${entry.outcome}${entry.code ? ` ${entry.code}` : ''}`]);
  };

  const inProcess = (options.stack?.functionProcesses ?? 'none') === 'none';
  const hosts = options.hosts ?? (inProcess ? 8 : 0);
  if (!inProcess && hosts !== 0) {
    // A scraper in its own process takes no injected resolver: it could only ask real DNS.
    throw new Error('With the scraper in its own process the fault site must serve on 127.0.0.1 (hosts: 0).');
  }
  const site = await startFaultSite({
    seed: options.seed,
    pages: options.urls,
    mix: options.mix,
    maxTransientFailures: options.maxTransientFailures ?? 3,
    hosts,
    slowMs: 300,
    oversizedBytes: 600 * 1024,
  });
  let stack: LocalStack | undefined;
  let ownEmulators: RunningEmulators | undefined;
  try {
    if (!options.running) ownEmulators = await startEmulators({ choice: options.emulators ?? 'embedded', pushConcurrency: options.pushConcurrency });
    const emulators = options.running ?? (ownEmulators as RunningEmulators);
    stack = await startLocalStack({
      running: emulators,
      apiPort: 0,
      env: fetchEnv,
      backoff: options.backoff ?? { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      maxDeliveryAttempts,
      ...options.stack,
      deps: inProcess
        ? {
            log,
            // Page hosts are made-up names under .fault.test: the site answers them, real DNS never does.
            fetchPage: (url, fetchOptions) => fetchPage(url, { ...fetchOptions, resolver: site.resolver }),
            ...options.stack?.deps,
          }
        : { log },
    });
    const running = stack;
    const plan = planPortfolios(site.pages, { seed: options.seed, portfolioSize: options.portfolioSize ?? 200, resubmitted: options.resubmitted ?? 0.05 });
    progress(`${site.pages.length} URLs on ${hosts ? `${hosts} host names` : '127.0.0.1'} (${JSON.stringify(site.counts())}), ${plan.portfolios.length} portfolios, ${plan.resubmitted.size} resubmitted; ${running.kind} emulators`);

    const started = performance.now();
    const startedAt = Date.now();
    const submissions = await inParallel(plan.portfolios, 4, (urls) => submit(running, urls, `chaos ${options.seed}`));
    const submitMs = performance.now() - started;
    const accepted = submissions.reduce((sum, submission) => sum + submission.urls.length, 0);
    progress(`${accepted} URLs accepted in ${(submitMs / 1000).toFixed(1)} s`);

    // Poll every portfolio until one round finds nothing queued anywhere (a resubmission can re-queue a
    // URL another portfolio had seen terminal, so a portfolio is never taken as settled on its own).
    let disturbance: ReturnType<Disturbance['run']> | undefined;
    const views = new Map<string, PortfolioView | null>();
    const deadline = Date.now() + options.settleTimeoutMs;
    let settledMs = 0;
    let lastLine = 0;
    for (;;) {
      const roundStarted = performance.now();
      const round = await inParallel(submissions, 2, (submission) => view(running, submission.portfolioId));
      const roundMs = performance.now() - roundStarted;
      submissions.forEach((submission, index) => views.set(submission.portfolioId, round[index] ?? null));
      const readable = round.filter((entry): entry is PortfolioView => entry !== null);
      const terminal = readable.reduce((sum, entry) => sum + entry.counts.done + entry.counts.failed, 0);
      const settled = readable.length === submissions.length && terminal === accepted;
      if (options.disturbance && !disturbance && (settled || terminal >= accepted * options.disturbance.atTerminalFraction)) {
        progress(`${terminal} of ${accepted} terminal: ${options.disturbance.name}`);
        disturbance = options.disturbance.run({ stack: running, emulators, site });
        // Awaited below; a failure meanwhile must not count as an unhandled rejection.
        disturbance.catch(() => undefined);
      }
      if (settled && disturbance) await disturbance;
      if (settled) {
        settledMs = performance.now() - started;
        break;
      }
      if (Date.now() > deadline) {
        settledMs = performance.now() - started;
        progress(`gave up after ${(settledMs / 1000).toFixed(0)} s: ${terminal} of ${accepted} terminal`);
        break;
      }
      if (Date.now() - lastLine > 5_000) {
        lastLine = Date.now();
        progress(`${((performance.now() - started) / 1000).toFixed(0)} s: ${terminal} of ${accepted} terminal${readable.length < submissions.length ? ` (${submissions.length - readable.length} portfolios unreadable)` : ''}`);
      }
      // Reading every portfolio is real load on the emulator (a getAll per portfolio): poll at most half the time.
      await sleep(Math.min(2_000, Math.max(250, roundMs)));
    }
    const disturbed = disturbance ? await disturbance : undefined;
    const articles = await storedArticles(running);
    const figures = disturbed ? { ...disturbed.figures, ...terminalGap(articles, disturbed.window) } : undefined;
    const lastTerminal = Math.max(startedAt, ...articles.map((article) => article.terminalAt ?? startedAt));
    const { checks, rows } = evaluate({ site, submissions, views, articles, resubmitted: plan.resubmitted, history, maxDeliveryAttempts, maxRedirects, disturbed: options.disturbance !== undefined });
    const wallMs = lastTerminal - startedAt;
    return {
      kind: running.kind,
      seed: options.seed,
      urls: site.pages.length,
      portfolios: submissions.length,
      accepted,
      resubmitted: plan.resubmitted.size,
      rows,
      wallMs,
      settledMs,
      submitMs,
      pagesPerSecond: site.pages.length / (wallMs / 1000),
      siteRequests: site.totalRequests(),
      siteFailures: site.pages.reduce((sum, page) => sum + (page.category === 'never' ? site.requests(page.url) : page.category === 'transient' ? Math.min(site.requests(page.url), page.failuresBeforeHealthy) : 0), 0),
      deliveries,
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
      ...(options.disturbance && figures ? { disturbance: { name: options.disturbance.name, figures } } : {}),
      checks,
      ok: checks.every((check) => check.ok),
    };
  } finally {
    await stack?.stop();
    await ownEmulators?.stop();
    await site.stop();
  }
}

/**
 * How the pipeline carried on around a disturbance, from the articles' `terminalAt`: the longest
 * stretch without any article becoming terminal that overlaps the window, and the first article
 * terminal after the window closed.
 */
export function terminalGap(articles: readonly StoredArticle[], window: { from: number; to: number }): Record<string, string> {
  const times = articles.map((article) => article.terminalAt).filter((time): time is number => time !== null).sort((a, b) => a - b);
  let longest = 0;
  let gapFrom = window.from;
  for (let index = 1; index < times.length; index++) {
    const [before, after] = [times[index - 1] as number, times[index] as number];
    if (after >= window.from && before <= window.to && after - before > longest) {
      longest = after - before;
      gapFrom = before;
    }
  }
  const firstAfter = times.find((time) => time >= window.to);
  return {
    'longest stretch with no article terminal': `${(longest / 1000).toFixed(1)} s (from ${((gapFrom - window.from) / 1000).toFixed(1)} s relative to the start of the disturbance)`,
    'first article terminal after it ended': firstAfter === undefined ? 'none' : `+${((firstAfter - window.to) / 1000).toFixed(1)} s`,
  };
}

function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]): string => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The report as printed by `npm run chaos`. */
export function formatReport(report: ChaosReport): string {
  const outcomes = table(
    ['pages', 'URLs', 'done', 'failed (by code)', 'as promised', 'site requests'],
    report.rows.map((row) => [
      row.category,
      row.pages,
      row.done,
      Object.entries(row.failed).map(([code, count]) => `${code} ${count}`).join(', ') || '-',
      row.asPromised,
      row.requests,
    ]),
  );
  const retries = Object.entries(report.deliveries).reduce((sum, [what, count]) => sum + (what.startsWith('retry') ? count : 0), 0);
  const deliveries = Object.entries(report.deliveries)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([what, count]) => `${what} ${count}`)
    .join(', ');
  const lines = [
    `chaos run: ${report.urls} URLs, seed ${report.seed}, ${report.portfolios} portfolios (${report.accepted} accepted, ${report.resubmitted} submitted twice), ${report.kind} emulators`,
    '',
    outcomes,
    '',
    `all ${report.accepted} POST /portfolios URLs accepted in ${(report.submitMs / 1000).toFixed(1)} s`,
    `wall time ${(report.wallMs / 1000).toFixed(1)} s to the last terminal article (${(report.settledMs / 1000).toFixed(1)} s until the views showed it), ${report.pagesPerSecond.toFixed(1)} pages/s`,
    `site requests ${report.siteRequests}, of them failing answers ${report.siteFailures}${deliveries ? `; scraper deliveries: ${deliveries}` : ''}`,
    // More retries than failing answers: timeouts the load added, or storage errors.
    ...(retries > 0 ? [`deliveries answered for a retry ${retries} (the site gave ${report.siteFailures} failing answers)`] : []),
    `load average (1 min) ${report.loadAverage.start.toFixed(1)} at start, ${report.loadAverage.end.toFixed(1)} at end`,
  ];
  if (report.disturbance) {
    lines.push(`disturbance: ${report.disturbance.name}; ${Object.entries(report.disturbance.figures).map(([what, value]) => `${what} ${value}`).join(', ')}`);
  }
  lines.push('', ...report.checks.map((check) => `${check.ok ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`), '', report.ok ? 'all checks passed' : 'SOME CHECKS FAILED');
  return lines.join('\n');
}
