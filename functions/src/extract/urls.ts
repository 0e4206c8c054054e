/**
 * Resolves `raw` against `base` and returns it only when it is an absolute http(s) URL.
 * Protocol-relative ("//cdn/x.jpg") and relative references resolve like a browser would.
 */
export function absoluteHttpUrl(raw: string | null | undefined, base: string | null): string | null {
  if (raw === null || raw === undefined) return null;
  // Browsers strip leading/trailing C0 controls and spaces and drop tabs/newlines inside URLs.
  const cleaned = raw.trim().replace(/[\t\n\r]/g, '');
  if (cleaned === '' || /^(data|javascript|blob|about|mailto):/i.test(cleaned)) return null;
  let url: URL;
  try {
    url = base ? new URL(cleaned, base) : new URL(cleaned);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.href;
}

/** The URL the page's relative links resolve against: `<base href>` (itself relative to the page), else the page. */
export function documentBase(pageUrl: string, baseHref: string | null): string | null {
  const page = absoluteHttpUrl(pageUrl, null);
  if (baseHref) {
    const fromBase = absoluteHttpUrl(baseHref, page);
    if (fromBase) return fromBase;
  }
  return page;
}
