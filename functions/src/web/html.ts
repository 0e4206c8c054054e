/**
 * HTML built from templates whose interpolations are escaped unless they are already {@link Html}:
 * everything that came from a scraped page (titles, outlines, URLs, error messages) is text here,
 * never markup.
 */

/** Markup that is safe to insert as is (made only by {@link html} or {@link raw}). */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text escaped for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

type Part = Html | string | number | null | undefined | false | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (Array.isArray(part)) return part.map(render).join('');
  if (part instanceof Html) return part.markup;
  return escapeHtml(String(part));
}

/** A template tag: `html\`<p>${title}</p>\`` escapes `title`; arrays are joined; null/false render nothing. */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let markup = strings[0] ?? '';
  parts.forEach((part, index) => {
    markup += render(part) + (strings[index + 1] ?? '');
  });
  return new Html(markup);
}

/** Trusted markup written in this code base (never scraped text). */
export function raw(markup: string): Html {
  return new Html(markup);
}

/** An href for a link to a scraped URL: only http(s), else null (a `javascript:` URL is never a link). */
export function safeHref(url: string | null | undefined): string | null {
  if (typeof url !== 'string') return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}
