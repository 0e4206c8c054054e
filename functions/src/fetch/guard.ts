/**
 * Which destinations the fetcher may connect to. The scraper runs inside a Google Cloud project whose
 * metadata server (169.254.169.254, `metadata.google.internal`) hands out service-account tokens, so
 * anything that is not a public internet address is refused: by name before resolving, and by address
 * after resolving (see `pinning.ts` for how the checked address is the one connected to).
 *
 * Decisions recorded here:
 * - IPv4 is public only when ipaddr.js classes it as plain `unicast` (that excludes 0/8, 10/8, 100.64/10,
 *   127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15,
 *   198.51.100/24, 203.0.113/24, 224/4, 240/4, 255.255.255.255 and the AS112/AMT anycast blocks).
 * - IPv6 is public only inside the global unicast block 2000::/3 and outside every special range, with
 *   one exception: forms that carry an IPv4 address (mapped ::ffff:0:0/96, compatible ::/96, translated
 *   ::ffff:0:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they carry,
 *   because a dual-stack socket, a NAT64 gateway or a 6to4 relay delivers them to that IPv4 address.
 * - Teredo (2001::/32) and local-use NAT64 (64:ff9b:1::/48) are refused outright: the embedded address
 *   is obfuscated or local, and no article is served from them.
 * - Names: `localhost` and `*.localhost` (RFC 6761), `metadata` and anything under `.internal` (Compute
 *   Engine's internal DNS, including metadata.google.internal), `.local` (mDNS), `.localdomain`,
 *   `.home.arpa`, and single-label names, which the platform resolver completes with the project's
 *   internal search domains.
 */
import ipaddr from 'ipaddr.js';

/** Why a destination is refused: a stable reason and a sentence for people. */
export interface BlockReason {
  /** e.g. `loopback`, `private`, `link-local`, `metadata-name`, `internal-name`. */
  reason: string;
  message: string;
}

const IPV4_RANGE_WORDS: Record<string, string> = {
  unspecified: 'an unspecified (0.0.0.0/8) address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address (the cloud metadata server lives at 169.254.169.254)',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT (100.64.0.0/10) address',
  private: 'a private (RFC 1918) address',
  reserved: 'a reserved or documentation address',
  as112: 'an AS112 sink address',
  amt: 'an AMT relay anycast address',
};

const IPV6_RANGE_WORDS: Record<string, string> = {
  unspecified: 'the unspecified address ::',
  loopback: 'the loopback address ::1',
  linkLocal: 'a link-local address (fe80::/10)',
  multicast: 'a multicast address',
  uniqueLocal: 'a unique-local (fc00::/7) address',
  deprecatedSiteLocal: 'a site-local (fec0::/10) address',
  teredo: 'a Teredo tunnel address',
  rfc6052: 'a local-use NAT64 address',
};

function ipv4Reason(address: ipaddr.IPv4, shown: string): BlockReason | null {
  const range = address.range();
  if (range === 'unicast') return null;
  const words = IPV4_RANGE_WORDS[range] ?? `a special-purpose (${range}) address`;
  return { reason: range, message: `${shown} is ${words}; only public internet addresses are fetched.` };
}

/** The IPv4 address an IPv6 address carries, for the forms that deliver to it; null for other forms. */
function embeddedIpv4(bytes: number[]): ipaddr.IPv4 | null {
  const zero = (from: number, to: number): boolean => bytes.slice(from, to).every((b) => b === 0);
  const tail = (): ipaddr.IPv4 => new ipaddr.IPv4(bytes.slice(12, 16));
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; :: and ::1 are caught before this is called).
  if (zero(0, 10) && ((bytes[10] === 0xff && bytes[11] === 0xff) || (bytes[10] === 0 && bytes[11] === 0))) return tail();
  // ::ffff:0:a.b.c.d (SIIT translated, RFC 6145).
  if (zero(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zero(10, 12)) return tail();
  // 64:ff9b::a.b.c.d (NAT64 well-known prefix, RFC 6052).
  if (bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zero(4, 12)) return tail();
  // 2002:AABB:CCDD::/48 (6to4) carries AA.BB.CC.DD in bytes 2–5.
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return new ipaddr.IPv4(bytes.slice(2, 6));
  return null;
}

function ipv6Reason(address: ipaddr.IPv6, shown: string): BlockReason | null {
  const range = address.range();
  if (range === 'unspecified' || range === 'loopback') {
    return { reason: range, message: `${shown} is ${IPV6_RANGE_WORDS[range]}; only public internet addresses are fetched.` };
  }
  const bytes = address.toByteArray();
  const inner = embeddedIpv4(bytes);
  if (inner) {
    const innerReason = ipv4Reason(inner, inner.toString());
    if (!innerReason) return null;
    return { reason: innerReason.reason, message: `${shown} carries the IPv4 address ${innerReason.message}` };
  }
  const globalUnicast = ((bytes[0] ?? 0) & 0xe0) === 0x20;
  if (range === 'unicast' && globalUnicast) return null;
  const words = IPV6_RANGE_WORDS[range] ?? (globalUnicast ? `a special-purpose (${range}) address` : 'outside the global unicast block 2000::/3');
  return { reason: range === 'unicast' ? 'not-global' : range, message: `${shown} is ${words}; only public internet addresses are fetched.` };
}

/**
 * Why an IP address (as resolved or as written in a URL, brackets allowed) must not be connected to,
 * or null when it is a public internet address. Anything that does not parse is refused.
 */
export function addressBlockReason(ip: string): BlockReason | null {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // parse() also takes zone ids (fe80::1%eth0), which resolvers can return.
    address = ipaddr.parse(text);
  } catch {
    return { reason: 'unparseable', message: `${ip} is not an IP address the fetcher can check, so it is refused.` };
  }
  return address.kind() === 'ipv4' ? ipv4Reason(address as ipaddr.IPv4, text) : ipv6Reason(address as ipaddr.IPv6, text);
}

/** True when `ip` is a public internet address the fetcher may connect to. */
export function isPublicAddress(ip: string): boolean {
  return addressBlockReason(ip) === null;
}

const BLOCKED_SUFFIXES = ['.localhost', '.internal', '.local', '.localdomain', '.home.arpa'];

/**
 * The one spelling of a host name every check sees: lower case, without the trailing dots of a
 * fully-qualified name (`metadata.google.internal..` is `metadata.google.internal`). Null when a label
 * is empty (`a..b`, `.a`): no host has such a name.
 */
export function normalisedHostName(hostname: string): string | null {
  if (hostname.startsWith('[')) return hostname;
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  if (name === '' || name.split('.').includes('')) return null;
  return name;
}

/**
 * Why a host *name* is refused before it is resolved, or null. Expects a hostname as the WHATWG URL
 * parser leaves it (lower case, punycode); trailing dots are ignored, an empty label is refused.
 */
export function hostNameBlockReason(hostname: string): BlockReason | null {
  const name = normalisedHostName(hostname);
  if (name === null) return { reason: 'invalid-host', message: `${hostname} has an empty label (two dots in a row); it is not a host name.` };
  if (name === 'metadata' || name === 'metadata.google.internal') {
    return { reason: 'metadata-name', message: `${hostname} is the cloud metadata server; it is never fetched.` };
  }
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return { reason: 'loopback-name', message: `${hostname} names this machine; only public internet hosts are fetched.` };
  }
  const suffix = BLOCKED_SUFFIXES.find((s) => name.endsWith(s) || name === s.slice(1));
  if (suffix) {
    return { reason: 'internal-name', message: `${hostname} is in the private-use domain ${suffix.slice(1)}; only public internet hosts are fetched.` };
  }
  if (!name.includes('.')) {
    return {
      reason: 'single-label-name',
      message: `${hostname} is a single-label name that would be completed with internal search domains; use the full public host name.`,
    };
  }
  return null;
}

function isIpLiteral(hostname: string): boolean {
  return hostname.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * For the hostname of a URL: why it is refused without resolving anything, or null when only DNS can
 * tell. Catches literal IPs in every spelling the URL parser accepts (decimal `2130706433`, octal
 * `0177.0.0.1`, hex `0x7f.1`, short `127.1`, full-width digits, percent-encoded, IPv6 forms) by
 * normalising through the WHATWG URL parser first, and catches the names listed in this module's header.
 * The API uses it to reject such URLs when they are submitted; the fetcher applies it again at every hop.
 */
export function literalHostBlockReason(hostname: string): string | null {
  return literalHostBlock(hostname)?.message ?? null;
}

/** `literalHostBlockReason` with the reason code kept. */
export function literalHostBlock(hostname: string): BlockReason | null {
  // Trailing dots first: `127.0.0.1..` is no IPv4 literal to the URL parser, but is one without them.
  const name = normalisedHostName(hostname);
  if (name === null) return hostNameBlockReason(hostname);
  let normalised: string;
  try {
    normalised = new URL(`http://${name.includes(':') && !name.startsWith('[') ? `[${name}]` : name}/`).hostname;
  } catch {
    return { reason: 'invalid-host', message: `${hostname} is not a valid host name.` };
  }
  if (isIpLiteral(normalised)) return addressBlockReason(normalised);
  return hostNameBlockReason(normalised);
}

/** True when the (normalised) URL hostname is an IP literal, so no DNS lookup is needed. */
export function hostIsIpLiteral(hostname: string): boolean {
  return isIpLiteral(hostname);
}
