/**
 * `<meta http-equiv="refresh" content="0; url=…">`: a redirect written in the page. The fetcher follows
 * it like an HTTP redirect (same SSRF checks, counted in FETCH_MAX_REDIRECTS), so a page that is
 * nothing but a refresh is not stored as an empty article.
 *
 * Only the first {@link SCAN_CHARS} characters are read, in one forward pass (comments, scripts and
 * styles skipped), so the cost is bounded whatever the page holds.
 */

/** Characters of the page searched for a refresh: the head of any real page. */
export const SCAN_CHARS = 64 * 1024;

/** A refresh later than this is the page reloading itself after a while, not a redirect. */
export const MAX_REFRESH_DELAY_SECONDS = 10;

const SKIPPED = [
  { open: '<!--', close: '-->' },
  { open: '<script', close: '</script' },
  { open: '<style', close: '</style' },
];

function attribute(tag: string, name: string): string | null {
  const match = new RegExp(`[\\s/]${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, 'i').exec(tag);
  return match ? (match[1] ?? match[2] ?? match[3] ?? '') : null;
}

/**
 * The URL of a refresh `content` value ("5; url=/next", "0;URL='/next'", "0, /next"), as written, or
 * null when it has none or its delay is over {@link MAX_REFRESH_DELAY_SECONDS}.
 */
export function refreshTarget(content: string): string | null {
  const match = /^\s*(\d+)(?:\.[\d.]*)?\s*[;,\s]\s*(?:url\s*=\s*)?(.*)$/is.exec(content);
  if (!match) return null;
  if (Number(match[1]) > MAX_REFRESH_DELAY_SECONDS) return null;
  let target = (match[2] ?? '').trim();
  const quote = target[0];
  if (quote === '"' || quote === "'") {
    const end = target.indexOf(quote, 1);
    target = end < 0 ? target.slice(1) : target.slice(1, end);
  }
  target = target.trim();
  return target === '' ? null : target;
}

/** The target of the page's first meta refresh with a URL, as written (relative or absolute), or null. */
export function metaRefreshLocation(html: string): string | null {
  const text = html.slice(0, SCAN_CHARS);
  const lower = text.toLowerCase();
  let at = lower.indexOf('<');
  while (at >= 0) {
    const skipped = SKIPPED.find((skip) => lower.startsWith(skip.open, at));
    if (skipped) {
      const end = lower.indexOf(skipped.close, at + skipped.open.length);
      if (end < 0) return null;
      at = lower.indexOf('<', end + skipped.close.length);
      continue;
    }
    if (lower.startsWith('<meta', at) && /[\s/>]/.test(lower[at + 5] ?? '')) {
      const end = lower.indexOf('>', at);
      if (end < 0) return null;
      const tag = text.slice(at, end);
      if (attribute(tag, 'http-equiv')?.trim().toLowerCase() === 'refresh') {
        const target = refreshTarget(attribute(tag, 'content') ?? '');
        if (target !== null) return target;
      }
      at = lower.indexOf('<', end);
      continue;
    }
    at = lower.indexOf('<', at + 1);
  }
  return null;
}
