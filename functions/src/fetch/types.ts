import type { FetchConfig } from '../config';
import type { Connector } from './pinning';

/** A page fetched and decoded to text. */
export interface FetchedPage {
  /** The URL that was asked for. */
  requestedUrl: string;
  /** The URL after redirects: the one the HTML came from. */
  finalUrl: string;
  status: number;
  /** Lower-cased media type, e.g. "text/html". */
  contentType: string;
  /** The charset the body was decoded with, e.g. "utf-8", "shift_jis". */
  charset: string;
  html: string;
  /** Bytes of the (decompressed) body. */
  bytes: number;
  redirects: number;
  durationMs: number;
}

/**
 * Stable codes of fetch failures. Permanent (retrying can't help): invalid-url, blocked-address,
 * unsupported-scheme, blocked-port, http-4xx except 408 and 429, unsupported-content-type, too-large,
 * too-many-redirects, empty-page (a 200 whose body is empty or only whitespace). Transient: timeout, connection-failed, dns-failure, http-5xx, http-408, http-429,
 * host-busy (no per-host slot came free within `hostWaitTimeoutMs`; nothing was sent to the site).
 */
export type FetchErrorCode =
  | 'invalid-url'
  | 'blocked-address'
  | 'unsupported-scheme'
  | 'blocked-port'
  | `http-${number}`
  | 'unsupported-content-type'
  | 'too-large'
  | 'too-many-redirects'
  | 'empty-page'
  | 'timeout'
  | 'connection-failed'
  | 'dns-failure'
  | 'host-busy';

/** Why a fetch failed: a stable code, a sentence a person can act on, and whether a retry may help. */
export class FetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    /** True when the same request may succeed later (timeouts, 5xx, 408, 429, DNS, connection, host-busy). */
    readonly retryable: boolean,
    /** Delay the server asked for (Retry-After), when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'FetchError';
  }

  toJSON(): { code: string; message: string; retryable: boolean; retryAfterMs?: number } {
    return { code: this.code, message: this.message, retryable: this.retryable, ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }) };
  }
}

/** Resolves a host name to every address it has (IPv4 and IPv6 as text). */
export type Resolver = (hostname: string) => Promise<string[]>;

/**
 * Options of one fetch: the limits from `Config['fetch']`, plus seams for tests. Every field is optional
 * in `fetchPage`; missing ones take the defaults of `parseConfig({})`.
 */
export interface FetchOptions extends FetchConfig {
  /** Host name → addresses; default: A and AAAA queries through c-ares (see index.ts). */
  resolver: Resolver;
  /**
   * Opens sockets to already-checked IP addresses (undici connector signature). Tests pass one that
   * refuses anything but loopback, so no packet leaves the machine even if the guard were broken.
   * When given, the fetch uses its own short-lived agent instead of the shared one.
   */
  connector?: Connector;
  /**
   * Body bytes all concurrent fetches of this instance may hold in memory together; a fetch waits for
   * room (see bodyBudget.ts). Default 32 MiB.
   */
  bodyBudgetBytes: number;
  /** Cancels the fetch (it then fails with `timeout`). */
  signal?: AbortSignal;
  /**
   * What to read instead of HTML (the feed importer: feeds and sitemaps): the Accept header sent and
   * the media types read; a response without Content-Type is then read as is.
   */
  accept?: { header: string; mediaTypes: readonly string[] };
}
