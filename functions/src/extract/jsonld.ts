import { decodeLeftoverEntities } from './dom';

/** A JSON-LD object as found on a page; values are untrusted JSON. */
export type JsonLdNode = Record<string, unknown>;

/**
 * Parses the text of one `<script type="application/ld+json">`. Publishers often wrap it in HTML
 * comments or CDATA, leave trailing semicolons or raw newlines inside strings; those are repaired.
 * Returns null when the text is not JSON even after repair.
 */
export function parseJsonLd(text: string): unknown {
  const trimmed = text
    .trim()
    .replace(/^<!--|-->$/g, '')
    .replace(/^\/\/\s*<!\[CDATA\[|\/\/\s*\]\]>$/g, '')
    .replace(/^<!\[CDATA\[|\]\]>$/g, '')
    .trim()
    .replace(/;+$/, '');
  if (trimmed === '') return null;
  try {
    return JSON.parse(trimmed);
  } catch {
    try {
      // Raw control characters are invalid inside JSON strings but harmless as spaces elsewhere.
      return JSON.parse(trimmed.replace(/[\u0000-\u001f]+/g, ' '));
    } catch {
      return null;
    }
  }
}

/**
 * Every object in a JSON-LD value that has an `@type`, in document order: top-level objects, members of
 * arrays and `@graph`, and objects nested under any property (mainEntity, itemListElement, …).
 * Depth and count are bounded so that hostile input cannot blow the stack or the budget.
 */
export function flattenJsonLd(value: unknown, out: JsonLdNode[] = [], depth = 0): JsonLdNode[] {
  if (depth > 12 || out.length > 500 || value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    for (const v of value) flattenJsonLd(v, out, depth + 1);
    return out;
  }
  const obj = value as JsonLdNode;
  if (obj['@type'] !== undefined) out.push(obj);
  for (const [key, v] of Object.entries(obj)) {
    if (key === '@context') continue;
    if (v !== null && typeof v === 'object') flattenJsonLd(v, out, depth + 1);
  }
  return out;
}

/** The `@type` values of a node, lower-cased, without a schema.org prefix. */
export function typesOf(node: JsonLdNode): string[] {
  const t = node['@type'];
  const list = Array.isArray(t) ? t : [t];
  return list
    .filter((x): x is string => typeof x === 'string')
    .map((x) => x.replace(/^https?:\/\/schema\.org\//i, '').replace(/^schema:/i, '').toLowerCase());
}

/** schema.org types that describe the page's own text (Article and its subtypes, and kin). */
const ARTICLE_TYPES = new Set([
  'article', 'newsarticle', 'blogposting', 'reportagenewsarticle', 'analysisnewsarticle', 'opinionnewsarticle',
  'reviewnewsarticle', 'backgroundnewsarticle', 'techarticle', 'scholarlyarticle', 'socialmediaposting',
  'liveblogposting', 'report', 'review', 'posting', 'discussionforumposting', 'medicalscholarlyarticle',
  'satiricalarticle', 'advertisercontentarticle', 'apireference', 'creativework', 'webpage', 'itempage',
  'videoobject', 'podcastepisode', 'recipe', 'howto', 'qapage', 'faqpage', 'event', 'product', 'blog',
  'medicalwebpage', 'collectionpage', 'aboutpage', 'profilepage', 'episode', 'clip', 'movie', 'book',
]);

/** How strongly a node speaks for the page's article: 2 for Article types, 1 for pages and works, 0 otherwise. */
export function articleRank(node: JsonLdNode): number {
  const types = typesOf(node);
  if (types.some((t) => t.endsWith('article') || t === 'blogposting' || t === 'report' || t.endsWith('posting'))) return 2;
  if (types.some((t) => ARTICLE_TYPES.has(t))) return 1;
  return 0;
}

/** Article-like nodes first (stable order within a rank), then everything else that has the property. */
export function nodesWith(nodes: readonly JsonLdNode[], key: string): JsonLdNode[] {
  const withKey = nodes.filter((n) => n[key] !== undefined && n[key] !== null);
  return withKey
    .map((n, i) => ({ n, i, r: articleRank(n) }))
    .sort((a, b) => b.r - a.r || a.i - b.i)
    .map((x) => x.n);
}

/**
 * Replaces a bare reference (`{"@id": "…#org"}`) by the node of the same `@id` found elsewhere on the
 * page; `@graph` documents link their Article to its publisher and author that way.
 */
export function deref(value: unknown, nodes: readonly JsonLdNode[]): unknown {
  if (Array.isArray(value)) return value.map((v) => deref(v, nodes));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as JsonLdNode;
  const id = obj['@id'];
  if (typeof id !== 'string' || obj['@type'] !== undefined || obj['name'] !== undefined) return value;
  return nodes.find((n) => n['@id'] === id && n !== obj) ?? value;
}

/** A string from a JSON-LD value that may be a string, a number, an array or an object with `name`/`url`/`@value`. */
export function stringsOf(value: unknown, keys: readonly string[] = ['@value', 'name']): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [decodeLeftoverEntities(value)];
  if (typeof value === 'number') return [String(value)];
  if (Array.isArray(value)) return value.flatMap((v) => stringsOf(v, keys));
  if (typeof value === 'object') {
    const obj = value as JsonLdNode;
    for (const k of keys) {
      const found = stringsOf(obj[k], keys);
      if (found.length) return found;
    }
  }
  return [];
}
