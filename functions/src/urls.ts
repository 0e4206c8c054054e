/**
 * URL canonicalisation: the one place that decides when two submitted URLs are "the same article",
 * and which URLs can never be scraped.
 *
 * Rules, in order (README "URL canonicalisation" repeats them for users):
 * 1. Leading and trailing whitespace is ignored. A URL longer than {@link MAX_URL_LENGTH} characters
 *    (as submitted, or once canonical) is rejected (`url-too-long`). Text that is not well-formed
 *    Unicode (an unpaired UTF-16 surrogate, which JSON's `\uD800` escapes can carry) is `invalid-url`:
 *    the URL as submitted is stored with its article, and Firestore refuses such strings.
 * 2. It must parse as an absolute URL by the WHATWG URL Standard (what browsers do), else `invalid-url`.
 *    Parsing lower-cases the scheme and host, converts international host names to punycode,
 *    percent-encodes the path and query, resolves `.` and `..` path segments and drops default ports
 *    (`:80` for http, `:443` for https).
 * 3. The scheme must be `http` or `https` (`unsupported-scheme`), and a host must follow `//`
 *    (`missing-host`: the URL Standard would otherwise read `http:///page` as host `page`).
 * 4. User names and passwords are refused (`credentials-in-url`): they would be stored and logged.
 * 5. A host that is a literal non-public address (loopback, private, link-local, metadata…) is
 *    refused (`blocked-address`). Names that resolve to such addresses are caught at fetch time.
 *    Trailing dots of a fully-qualified host name are dropped first (`example.com.` is `example.com`,
 *    and `metadata.google.internal..` the metadata server); a host with an empty label (`a..b`) is
 *    `invalid-url`. A port the fetcher would refuse (`FETCH_ALLOWED_PORTS`) is `blocked-port`.
 * 6. The fragment (`#…`) is dropped: it never reaches the server.
 * 7. Tracking parameters are removed from the query: every `utm_*` parameter and the click and
 *    campaign identifiers in {@link TRACKING_PARAMETERS} (case-insensitive names). The remaining
 *    parameters keep their order and their exact spelling; an empty query is dropped with its `?`.
 *    Nothing else changes: the path keeps its case and its trailing slash, because servers may
 *    treat those as different pages.
 */
import { createHash } from 'node:crypto';

/** Longest URL accepted, in characters (also the de-facto limit of browsers and CDNs). */
export const MAX_URL_LENGTH = 2048;

/** Query parameters that only identify a click, campaign or share, never the page. */
export const TRACKING_PARAMETERS: ReadonlySet<string> = new Set([
  'fbclid', // Facebook
  'gclid', // Google Ads
  'dclid', // Google Display
  'gbraid', // Google Ads (iOS)
  'wbraid', // Google Ads (web to app)
  'msclkid', // Microsoft Ads
  'yclid', // Yandex
  'twclid', // X / Twitter Ads
  'ttclid', // TikTok
  'igshid', // Instagram share
  'mc_cid', // Mailchimp campaign
  'mc_eid', // Mailchimp subscriber
  '_ga', // Google Analytics cross-domain
  '_gl', // Google tag linker
  '_hsenc', // HubSpot
  '_hsmi', // HubSpot
  'mkt_tok', // Marketo
  'ref_src', // X / Twitter embeds
  'ref_url', // X / Twitter embeds
]);

/** Why a submitted URL can never be scraped. */
export type UrlRejectionCode =
  | 'invalid-url'
  | 'unsupported-scheme'
  | 'missing-host'
  | 'credentials-in-url'
  | 'url-too-long'
  | 'blocked-address'
  | 'blocked-port';

/** The outcome of {@link canonicalizeUrl}. */
export type CanonicalUrlResult =
  | { ok: true; canonicalUrl: string; urlKey: string }
  | { ok: false; code: UrlRejectionCode; message: string };

/**
 * Tells whether a URL host that is a literal address (or a known metadata name) is non-public,
 * returning why, or null when it is fine. The fetcher's guard provides the real one.
 */
export type HostBlockCheck = (hostname: string) => string | null;

/** Options of {@link canonicalizeUrl}. */
export interface CanonicalizeOptions {
  /** Rejects literal private and metadata hosts; omitted only where the check happens elsewhere. */
  blockReason?: HostBlockCheck;
  /** Destination ports the fetcher accepts (`FETCH_ALLOWED_PORTS`); omitted: any port. */
  allowedPorts?: readonly number[];
}

function isTrackingParameter(rawName: string): boolean {
  let name: string;
  try {
    name = decodeURIComponent(rawName.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return false; // a malformed escape is not one of ours; keep it as written
  }
  return name.startsWith('utm_') || TRACKING_PARAMETERS.has(name);
}

/** Removes tracking parameters from a `?…` search string, keeping the rest exactly as written. */
function withoutTracking(search: string): string {
  if (search === '') return '';
  const kept = search
    .slice(1)
    .split('&')
    .filter((pair) => pair !== '' && !isTrackingParameter(pair.split('=', 1)[0] ?? ''));
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}

/**
 * False when `text` holds an unpaired UTF-16 surrogate (in a `u` regex, only an unpaired one is a
 * code point of category Cs). String.prototype.isWellFormed, once the TypeScript target has it.
 */
export function isWellFormed(text: string): boolean {
  return !/\p{Cs}/u.test(text);
}

function reject(code: UrlRejectionCode, message: string): CanonicalUrlResult {
  return { ok: false, code, message };
}

/** SHA-256 hex of a canonical URL: the Firestore document id of its article (URLs contain `/`). */
export function urlKey(canonicalUrl: string): string {
  return createHash('sha256').update(canonicalUrl).digest('hex');
}

/**
 * Canonicalises one submitted URL by the rules in this module's header, or says why it is rejected.
 * Never throws.
 */
export function canonicalizeUrl(input: string, options: CanonicalizeOptions = {}): CanonicalUrlResult {
  const text = input.trim();
  if (text === '') return reject('invalid-url', 'The URL is empty.');
  if (!isWellFormed(text)) return reject('invalid-url', 'The URL contains an unpaired surrogate (\\uD800–\\uDFFF), which is not text; send it as UTF-8.');
  if (text.length > MAX_URL_LENGTH) {
    return reject('url-too-long', `The URL has ${text.length} characters; at most ${MAX_URL_LENGTH} are accepted.`);
  }
  if (/^https?:\/\/(?:[/?#\\]|$)/i.test(text)) {
    return reject('missing-host', 'The URL has no host after "//"; write it as https://example.com/page.');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const hint = /^[a-z][a-z0-9+.-]*:/i.test(text) ? '' : ' Include the scheme, e.g. https://example.com/page.';
    return reject('invalid-url', `The URL could not be parsed as an absolute URL.${hint}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return reject('unsupported-scheme', `Only http and https URLs can be scraped, not ${url.protocol.slice(0, -1)}.`);
  }
  if (url.hostname === '') return reject('missing-host', 'The URL has no host.');
  if (url.username !== '' || url.password !== '') {
    return reject('credentials-in-url', 'URLs with a user name or password are not accepted: only public pages are scraped, and the credentials would be stored.');
  }
  if (!url.hostname.startsWith('[')) {
    const hostname = url.hostname.replace(/\.+$/, '');
    if (hostname === '' || hostname.split('.').includes('')) {
      return reject('invalid-url', `The host ${url.hostname} has an empty label (two dots in a row, or a leading dot); it names no host.`);
    }
    if (hostname !== url.hostname) url.hostname = hostname;
  }
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  if (options.allowedPorts && !options.allowedPorts.includes(port)) {
    return reject('blocked-port', `Port ${port} is not fetched (allowed: ${options.allowedPorts.join(', ')}); submit the URL on a standard web port.`);
  }
  const blocked = options.blockReason?.(url.hostname) ?? null;
  if (blocked !== null) {
    return reject('blocked-address', `The host ${url.hostname} is not a public address (${blocked}).`);
  }
  url.hash = '';
  url.search = withoutTracking(url.search);
  const canonicalUrl = url.href;
  if (canonicalUrl.length > MAX_URL_LENGTH) {
    return reject('url-too-long', `The URL has ${canonicalUrl.length} characters once encoded; at most ${MAX_URL_LENGTH} are accepted.`);
  }
  return { ok: true, canonicalUrl, urlKey: urlKey(canonicalUrl) };
}
