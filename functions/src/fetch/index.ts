/**
 * `fetchPage`: one article page, fetched safely and within limits, decoded to text. Rejects only with
 * `FetchError`, whose `retryable` flag decides whether the scrape is retried.
 *
 * Per hop: scheme → port → host name / literal IP → wait for a per-host slot → resolve and check every
 * address → pin the checked addresses → request (manual redirects, no automatic decompression) → status →
 * content type → body under the cap → charset. Redirects repeat all of it for the new URL.
 *
 * Two clocks per fetch: waiting for host slots (all hops together) may take `hostWaitTimeoutMs`, then
 * the fetch fails `host-busy` without a request sent; everything else may take `timeoutMs`, and that
 * deadline only runs while the fetch is not waiting for a slot. A page queued behind slow pages of its
 * own site therefore still gets its whole deadline, and one fetch never exceeds the sum of the two.
 */
import dns from 'node:dns';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { parseConfig } from '../config';
import { ACCEPT_ENCODING, BodyTooLarge, DecodeFailed, MAX_CONTENT_CODINGS, TooManyEncodings, UnsupportedEncoding, decodersFor, readCappedBody } from './body';
import { BodyBudget, type BodyLease } from './bodyBudget';
import { decodeHtml } from './charset';
import { addressBlockReason, hostIsIpLiteral, literalHostBlock, normalisedHostName, type BlockReason } from './guard';
import { HostLimiter, HostWaitExpired } from './hostLimiter';
import { metaRefreshLocation } from './metaRefresh';
import { PinningAgent } from './pinning';
import { FetchError, type FetchOptions, type FetchedPage, type Resolver } from './types';

export { FetchError } from './types';
export type { FetchOptions, FetchedPage, FetchErrorCode, Resolver } from './types';
export { isPublicAddress, literalHostBlockReason } from './guard';
export type { Connector } from './pinning';

/** Media types read as HTML. Anything else is refused before its body is read. */
const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

let dnsResolver: dns.promises.Resolver | undefined;

/**
 * Default name resolution: A and AAAA queries through c-ares (`dns.Resolver`), not `dns.lookup`.
 * lookup() runs getaddrinfo on libuv's 4-thread pool, which zlib also uses; a portfolio full of dead
 * domains whose DNS hangs would stall every decompression. c-ares is asynchronous and has its own
 * timeout. It ignores /etc/hosts, which a server-side scraper should anyway; `localhost` names are
 * answered here (RFC 6761) for the local-development switch. IPv4 first: Cloud Run egress is IPv4.
 */
const defaultResolver: Resolver = async (hostname) => {
  const name = hostname.replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return ['127.0.0.1', '::1'];
  dnsResolver ??= new dns.promises.Resolver({ timeout: 2_000, tries: 2 });
  const [v4, v6] = await Promise.allSettled([dnsResolver.resolve4(name), dnsResolver.resolve6(name)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length > 0) return addresses;
  // Both failed or were empty: report the IPv4 reason (ENOTFOUND, ETIMEOUT, ESERVFAIL, …).
  throw v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : Object.assign(new Error('no addresses'), { code: 'ENODATA' });
};

/**
 * Body bytes all fetches of one instance may hold at once (plus one fetch's cap, see bodyBudget.ts).
 * Measured (bench/fetch.ts): freed socket buffers linger ~100 MB until V8 collects them, so 32 MiB
 * keeps 50 concurrent 5 MB fetches near 200–240 MB RSS, where 96 MiB reached ~300 MB. Articles are
 * rarely over 1 MB, so ordinary fetches never wait for it.
 */
export const DEFAULT_BODY_BUDGET_BYTES = 32 * 1024 * 1024;

let defaults: FetchOptions | undefined;
function defaultOptions(): FetchOptions {
  defaults ??= { ...parseConfig({}).fetch, resolver: defaultResolver, bodyBudgetBytes: DEFAULT_BODY_BUDGET_BYTES };
  return defaults;
}

/** One agent per instance and connect timeout (and per private-network switch, so pools never mix). */
const sharedAgents = new Map<string, PinningAgent>();
const hostLimiter = new HostLimiter();
const bodyBudgets = new Map<number, BodyBudget>();

function bodyBudget(limit: number): BodyBudget {
  let budget = bodyBudgets.get(limit);
  if (!budget) {
    budget = new BodyBudget(limit);
    bodyBudgets.set(limit, budget);
  }
  return budget;
}

function sharedAgent(options: FetchOptions): PinningAgent {
  const key = `${options.connectTimeoutMs}/${options.allowPrivateNetworks}`;
  let agent = sharedAgents.get(key);
  if (!agent) {
    agent = new PinningAgent({ connectTimeoutMs: options.connectTimeoutMs });
    sharedAgents.set(key, agent);
  }
  return agent;
}

/** Closes the shared agents' idle sockets (for benches and tools that want to exit promptly). */
export async function closeSharedAgents(): Promise<void> {
  const agents = [...sharedAgents.values()];
  sharedAgents.clear();
  await Promise.all(agents.map((agent) => agent.close()));
}

/** The overall deadline passed; carried as the abort reason. */
class DeadlineExceeded extends Error {}

/** The fetch's deadline: aborts `signal` after `timeoutMs` of running time; paused while waiting for a slot. */
class Deadline {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  private remainingMs: number;
  private runningSince = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.remainingMs = timeoutMs;
  }

  run(): void {
    if (this.timer !== undefined || this.signal.aborted) return;
    this.runningSince = performance.now();
    this.timer = setTimeout(() => this.controller.abort(new DeadlineExceeded()), this.remainingMs);
  }

  pause(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remainingMs = Math.max(0, this.remainingMs - (performance.now() - this.runningSince));
  }
}

const neverAborted = new AbortController().signal;

const permanent = (code: ConstructorParameters<typeof FetchError>[0], message: string): FetchError => new FetchError(code, message, false);
const transient = (code: ConstructorParameters<typeof FetchError>[0], message: string, retryAfterMs?: number): FetchError =>
  new FetchError(code, message, true, retryAfterMs);

function blocked(url: URL, why: BlockReason): FetchError {
  return permanent('blocked-address', `Refused to fetch ${url.href}: ${why.message}`);
}

/** Parses and checks everything about a URL that needs no network: scheme, credentials, port, literal host. */
function checkUrl(raw: string | URL, options: FetchOptions, via?: URL): URL {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw, via) : raw;
  } catch {
    throw permanent('invalid-url', via ? `${via.href} redirected to "${String(raw)}", which is not a valid URL.` : `"${String(raw)}" is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw permanent('unsupported-scheme', `Only http and https URLs are fetched, not ${url.protocol.replace(/:$/, '')} (${url.href.slice(0, 200)}).`);
  }
  if (url.username !== '' || url.password !== '') {
    throw permanent('invalid-url', `${url.host} was given with a user name or password; submit the URL without credentials.`);
  }
  // Every later step (name checks, DNS, pinning, Host) sees the one spelling: no trailing dots.
  const hostname = normalisedHostName(url.hostname);
  if (hostname === null) throw permanent('invalid-url', `${url.href.slice(0, 200)} has an empty label in its host name (two dots in a row); it names no host.`);
  if (hostname !== url.hostname) {
    url = new URL(url.href);
    url.hostname = hostname;
  }
  // The host first: "loopback address" explains http://127.0.0.1:3000/ better than "port 3000".
  const why = literalHostBlock(url.hostname);
  if (why && !(options.allowPrivateNetworks && !alwaysBlocked(why))) throw blocked(url, why);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  if (!options.allowPrivateNetworks && !options.allowedPorts.includes(port)) {
    throw permanent('blocked-port', `Port ${port} is not fetched (allowed: ${options.allowedPorts.join(', ')}); use a URL on a standard web port.`);
  }
  return url;
}

/**
 * What stays refused even with `allowPrivateNetworks`: the metadata server by name and link-local
 * addresses (169.254/16, fe80::/10), so the local-development switch can never expose credentials.
 */
function alwaysBlocked(why: BlockReason): boolean {
  return why.reason === 'metadata-name' || why.reason === 'linkLocal';
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The addresses to connect to for `url`, each one checked. */
async function checkedAddresses(url: URL, options: FetchOptions, signal: AbortSignal): Promise<string[]> {
  if (hostIsIpLiteral(url.hostname)) return [url.hostname.replace(/^\[|\]$/g, '')];
  let addresses: string[];
  try {
    addresses = await raceAbort(options.resolver(url.hostname), signal);
  } catch (error) {
    if (signal.aborted) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw transient('dns-failure', `The host name ${url.hostname} could not be resolved (${code}); check its spelling, or retry if DNS is having trouble.`);
  }
  if (addresses.length === 0) {
    throw transient('dns-failure', `The host name ${url.hostname} has no addresses; check its spelling, or retry if DNS is having trouble.`);
  }
  for (const address of addresses) {
    const why = addressBlockReason(address);
    if (why && !(options.allowPrivateNetworks && !alwaysBlocked(why))) {
      throw blocked(url, { reason: why.reason, message: `${url.hostname} resolves to ${why.message}` });
    }
  }
  return addresses;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its weekday and month; Date.parse alone would also take "-5" as a year.
  const at = /[a-z]{3}/i.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function statusError(status: number, url: URL, retryAfter: string | undefined): FetchError {
  const text = `${url.href} answered HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''}`;
  const code = `http-${status}` as const;
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    const wait = retryAfterMs === undefined ? '' : ` (the server asks to wait ${Math.ceil(retryAfterMs / 1000)} s)`;
    return transient(code, `${text}; retry later${wait}.`, retryAfterMs);
  }
  if (status === 408 || status >= 500) return transient(code, `${text}; the server may recover, retry later.`);
  if (status >= 300 && status < 400) return permanent(code, `${text} without a usable Location header.`);
  return permanent(code, `${text}; check the address (retrying will not help).`);
}

/** HTML as the WHATWG sniffing algorithm recognises it, for responses without a Content-Type. */
function looksLikeHtml(text: string): boolean {
  return /^\s*<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>]/i.test(text.slice(0, 1024));
}

/** Drops a body unread; closing the socket is cheaper than draining a body of unknown size. */
function discard(body: Readable): void {
  // undici reports a destroyed body as an AbortError on the stream; nobody is listening any more.
  body.on('error', () => undefined);
  body.destroy();
}

type Hop =
  | { kind: 'redirect'; location: string; via: 'HTTP' | 'meta refresh' }
  | { kind: 'page'; page: Omit<FetchedPage, 'requestedUrl' | 'redirects' | 'durationMs'> };

/** True when a refresh target names another page than `url` (a refresh to itself only reloads). */
function refreshLeaves(url: URL, location: string): boolean {
  try {
    const target = new URL(location, url);
    target.hash = '';
    const current = new URL(url.href);
    current.hash = '';
    return target.href !== current.href;
  } catch {
    // Not a URL: followed, so that the redirect loop reports it as invalid-url like a bad Location.
    return true;
  }
}

/** Waits for a slot of `host` and resolves with its release function. */
type HoldSlot = (host: string) => Promise<() => void>;

async function fetchHop(url: URL, options: FetchOptions, pinning: PinningAgent, signal: AbortSignal, holdSlot: HoldSlot): Promise<Hop> {
  // The slot before DNS: the deadline starts with the slot, and then covers the lookup too.
  const release = await holdSlot(url.hostname);
  let unpin: (() => void) | undefined;
  let lease: BodyLease | undefined;
  try {
    const addresses = await checkedAddresses(url, options, signal);
    unpin = pinning.pin(url.hostname, addresses);
    const response = await request(url, {
      dispatcher: pinning.agent,
      method: 'GET',
      headers: {
        'user-agent': options.userAgent,
        accept: options.accept?.header ?? 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1',
        'accept-encoding': ACCEPT_ENCODING,
      },
      signal,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyIdleTimeoutMs,
    });
    const { statusCode: status, headers, body } = response;
    const location = header(headers, 'location');
    if (REDIRECT_STATUSES.has(status) && location) {
      discard(body);
      return { kind: 'redirect', location, via: 'HTTP' };
    }
    if (status < 200 || status >= 300) {
      discard(body);
      throw statusError(status, url, header(headers, 'retry-after'));
    }
    const contentTypeHeader = header(headers, 'content-type');
    const mediaType = contentTypeHeader?.split(';')[0]?.trim().toLowerCase() || undefined;
    if (mediaType !== undefined && !(options.accept?.mediaTypes.includes(mediaType) ?? HTML_TYPES.has(mediaType))) {
      discard(body);
      const wanted = options.accept?.mediaTypes.join(', ') ?? 'text/html and application/xhtml+xml';
      throw permanent('unsupported-content-type', `${url.href} is ${mediaType}, not ${options.accept ? 'a feed or sitemap' : 'an HTML page'}; only ${wanted} are read.`);
    }
    const decoders = decodersFor(header(headers, 'content-encoding'), options.maxBytes);
    const declaredLength = Number(header(headers, 'content-length'));
    if (decoders.length === 0 && declaredLength > options.maxBytes) {
      discard(body);
      throw new BodyTooLarge(options.maxBytes, 'transferred');
    }
    // The lease is held until the text exists, so the budget covers the bytes and their decoding.
    lease = bodyBudget(options.bodyBudgetBytes).lease();
    const bytes = await readCappedBody(body, decoders, { maxBytes: options.maxBytes, lease, signal });
    // The decoded text is about as large again (twice for two-byte text); count it while it is made.
    await lease.take(bytes.length, signal);
    const { text, charset } = decodeHtml(bytes, contentTypeHeader);
    if (text.trim() === '') {
      throw permanent('empty-page', `${url.href} answered ${status} with ${bytes.length === 0 ? 'an empty body' : 'a body of only whitespace'}: there is no page to read.`);
    }
    if (mediaType === undefined && options.accept === undefined && !looksLikeHtml(text)) {
      throw permanent('unsupported-content-type', `${url.href} has no Content-Type and does not look like HTML; only HTML pages are read.`);
    }
    // A page whose meta refresh sends the reader elsewhere is a redirect, checked and counted as one.
    const refresh = options.accept === undefined ? metaRefreshLocation(text) : null;
    if (refresh !== null && refreshLeaves(url, refresh)) return { kind: 'redirect', location: refresh, via: 'meta refresh' };
    const finalUrl = new URL(url.href);
    finalUrl.hash = '';
    return { kind: 'page', page: { finalUrl: finalUrl.href, status, contentType: mediaType ?? 'text/html', charset, html: text, bytes: bytes.length } };
  } finally {
    lease?.release();
    unpin?.();
    release();
  }
}

interface Context {
  url: string;
  options: FetchOptions;
  deadline: AbortSignal;
}

/** Maps whatever went wrong to a FetchError with a stable code. */
function toFetchError(error: unknown, context: Context): FetchError {
  if (error instanceof FetchError) return error;
  const { url, options } = context;
  if (error instanceof HostWaitExpired) {
    return transient(
      'host-busy',
      `${url} was not requested: this instance already had ${options.perHostConcurrency} requests to ${error.host} in flight and no slot came free ` +
        `within ${options.hostWaitTimeoutMs} ms. It will be retried later; if a site's pages keep failing this way, raise FETCH_PER_HOST_CONCURRENCY ` +
        `or FETCH_HOST_WAIT_TIMEOUT_MS.`,
    );
  }
  if (context.deadline.aborted) {
    return transient('timeout', `${url} did not finish within the overall limit of ${options.timeoutMs} ms; the site may be slow, retry later.`);
  }
  if (options.signal?.aborted) return transient('timeout', `Fetching ${url} was cancelled before it finished.`);
  if (error instanceof BodyTooLarge) {
    return permanent('too-large', `${url} is larger than the limit of ${error.limit} bytes (${error.what}); such pages are not read.`);
  }
  if (error instanceof TooManyEncodings) {
    return permanent('unsupported-content-type', `${url} was sent with ${error.count} content codings; at most ${MAX_CONTENT_CODINGS} are decoded, so it is not read.`);
  }
  if (error instanceof UnsupportedEncoding) {
    return permanent('unsupported-content-type', `${url} was sent with ${error.message}; only gzip, deflate and br are decoded.`);
  }
  if (error instanceof DecodeFailed) {
    return transient('connection-failed', `${url}: ${error.message}; the transfer was probably cut short, retry later.`);
  }
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return transient('timeout', `Connecting to ${url} took longer than ${options.connectTimeoutMs} ms; retry later.`);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return transient('timeout', `${url} sent no response headers within ${options.headersTimeoutMs} ms; retry later.`);
    case 'UND_ERR_BODY_TIMEOUT':
      return transient('timeout', `${url} stopped sending its body for ${options.bodyIdleTimeoutMs} ms; retry later.`);
    case 'UND_ERR_HEADERS_OVERFLOW':
      return permanent('too-large', `${url} sent response headers larger than the fetcher accepts.`);
    default: {
      const detail = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
      return transient('connection-failed', `The connection to ${url} failed (${detail}); retry later.`);
    }
  }
}

/**
 * Fetches one HTML page. Follows up to `maxRedirects` redirects by hand, checking every hop; refuses
 * non-public destinations unless `allowPrivateNetworks`; enforces the timeouts, the per-host limit and
 * the byte cap; decodes the body with the right charset. Rejects only with `FetchError`.
 */
export async function fetchPage(url: string, overrides: Partial<FetchOptions> = {}): Promise<FetchedPage> {
  // An override given as `undefined` (e.g. `{ resolver: undefined }`) keeps the default.
  const given = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)) as Partial<FetchOptions>;
  const options: FetchOptions = { ...defaultOptions(), ...given };
  const started = performance.now();
  const deadline = new Deadline(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline.signal, options.signal]) : deadline.signal;
  const context: Context = { url, options, deadline: deadline.signal };
  let waitLeftMs = options.hostWaitTimeoutMs;
  const holdSlot: HoldSlot = async (host) => {
    // Only the caller's signal ends a wait early; the deadline stands still meanwhile.
    deadline.pause();
    const waitStarted = performance.now();
    try {
      return await hostLimiter.acquire(host, options.perHostConcurrency, options.signal ?? neverAborted, waitLeftMs);
    } finally {
      waitLeftMs = Math.max(0, waitLeftMs - (performance.now() - waitStarted));
      deadline.run();
    }
  };
  const pinning = options.connector ? new PinningAgent({ connectTimeoutMs: options.connectTimeoutMs, connector: options.connector }) : sharedAgent(options);
  try {
    let current = checkUrl(url, options);
    for (let redirects = 0; ; redirects += 1) {
      context.url = current.href;
      const hop = await fetchHop(current, options, pinning, signal, holdSlot);
      if (hop.kind === 'page') {
        return { requestedUrl: url, ...hop.page, redirects, durationMs: Math.round(performance.now() - started) };
      }
      if (redirects >= options.maxRedirects) {
        throw permanent(
          'too-many-redirects',
          `${url} redirected more than ${options.maxRedirects} times (the last by ${hop.via} to ${hop.location.slice(0, 200)}); open it in a browser to see the loop.`,
        );
      }
      current = checkUrl(hop.location, options, current);
    }
  } catch (error) {
    throw toFetchError(error, context);
  } finally {
    deadline.pause();
    if (options.connector) await pinning.close();
  }
}
