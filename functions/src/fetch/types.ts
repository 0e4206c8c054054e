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

/** Stable codes of fetch failures. The first group is permanent, the second transient. */
export type FetchErrorCode =
  | 'invalid-url'
  | 'blocked-address'
  | 'unsupported-scheme'
  | 'blocked-port'
  | `http-${number}`
  | 'unsupported-content-type'
  | 'too-large'
  | 'too-many-redirects'
  | 'timeout'
  | 'connection-failed'
  | 'dns-failure';

/** Why a fetch failed: a stable code, a sentence a person can act on, and whether a retry may help. */
export class FetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    /** True when the same request may succeed later (timeouts, 5xx, 408, 429, DNS, connection). */
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
