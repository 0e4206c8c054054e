/**
 * The push token issuer's public keys, fetched from one configured URL (PUSH_JWKS_URL) and cached.
 * Not the article fetcher: this URL is ours, fixed at start, never taken from a request.
 */
import type { KeyObject } from 'node:crypto';
import { keysOfJwks, type KeyLookup } from './pushToken';

/** Largest certificate document read (Google's is about 2 KB). */
const MAX_CERTS_BYTES = 64 * 1024;
const FETCH_TIMEOUT_MS = 5_000;
/** Kept this long when the answer names no max-age; Google's say about 6 h. */
const DEFAULT_MAX_AGE_MS = 60 * 60 * 1000;
/** An unknown kid refetches at most this often (keys rotate; forged kids must not drive fetches). */
const REFETCH_GAP_MS = 30_000;

/** The keys could not be fetched: the push may succeed later (503, a nack). */
export class CertsUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertsUnavailableError';
  }
}

interface Cached {
  keys: Map<string, KeyObject>;
  expiresAt: number;
  fetchedAt: number;
}

async function fetchKeys(url: string): Promise<{ keys: Map<string, KeyObject>; maxAgeMs: number }> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (error) {
    throw new CertsUnavailableError(`the push token keys at ${url} could not be fetched (${(error as Error).message})`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new CertsUnavailableError(`the push token keys at ${url} answered HTTP ${response.status}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += (chunk as Uint8Array).byteLength;
    if (size > MAX_CERTS_BYTES) throw new CertsUnavailableError(`the push token keys at ${url} are over ${MAX_CERTS_BYTES} bytes`);
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  let keys: Map<string, KeyObject>;
  try {
    keys = keysOfJwks(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  } catch (error) {
    throw new CertsUnavailableError(`the push token keys at ${url} are not a JWKS (${(error as Error).message})`);
  }
  const maxAge = /max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '');
  return { keys, maxAgeMs: maxAge ? Math.min(Number(maxAge[1]) * 1000, 24 * DEFAULT_MAX_AGE_MS) : DEFAULT_MAX_AGE_MS };
}

/**
 * A key lookup over the JWKS at `url`: fetched on first use, kept for its max-age, fetched again
 * early (at most every 30 s) for a kid it doesn't know; one fetch at a time.
 */
export function cachedCerts(url: string, now: () => number = Date.now): KeyLookup {
  let cached: Cached | null = null;
  let inflight: Promise<Cached> | null = null;
  const refresh = (): Promise<Cached> => {
    inflight ??= fetchKeys(url)
      .then(({ keys, maxAgeMs }) => {
        const at = now();
        cached = { keys, fetchedAt: at, expiresAt: at + maxAgeMs };
        return cached;
      })
      .finally(() => {
        inflight = null;
      });
    return inflight;
  };
  return async (kid) => {
    let current = cached as Cached | null;
    if (current === null || current.expiresAt <= now()) {
      try {
        current = await refresh();
      } catch (error) {
        // Expired keys still verify while the issuer can't be reached: they are what it published.
        if (current === null) throw error;
      }
    }
    if (!current.keys.has(kid) && now() - current.fetchedAt >= REFETCH_GAP_MS) {
      current = await refresh().catch(() => current as Cached);
    }
    return current.keys.get(kid);
  };
}

const shared = new Map<string, KeyLookup>();

/** One cache per URL per instance. */
export function sharedCerts(url: string): KeyLookup {
  let lookup = shared.get(url);
  if (!lookup) {
    lookup = cachedCerts(url);
    shared.set(url, lookup);
  }
  return lookup;
}
