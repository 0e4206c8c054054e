/**
 * Reads the article links out of a feed or sitemap: RSS 2.0 (and RSS 1.0/RDF), Atom, JSON Feed, a
 * sitemap, or a sitemap index (whose links are further sitemaps). XML is parsed by fast-xml-parser
 * (namespace prefixes dropped, entity expansion bounded), JSON by JSON.parse; nothing here is a
 * regular expression over markup. Links are resolved against the document's URL; canonicalising and
 * de-duplicating them is the expander's job.
 */
import { XMLParser } from 'fast-xml-parser';

/** What a document turned out to be. */
export type FeedKind = 'rss' | 'rdf' | 'atom' | 'json-feed' | 'sitemap' | 'sitemap-index';

/** The links of one document, in document order. */
export interface ParsedFeed {
  kind: FeedKind;
  /** Article URLs (for a sitemap index: the URLs of its sitemaps). */
  links: string[];
}

/** A document that is none of the supported kinds (or not well-formed). */
export class FeedFormatError extends Error {
  readonly code = 'feed-invalid';
}

/** Media types the feed fetch accepts (and sends as Accept). */
export const FEED_MEDIA_TYPES = [
  'application/rss+xml',
  'application/atom+xml',
  'application/rdf+xml',
  'application/feed+json',
  'application/json',
  'application/xml',
  'text/xml',
] as const;

export const FEED_ACCEPT = 'application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8';

// Elements that may repeat, so they are always arrays (one <item> must not become an object).
const REPEATED = new Set(['item', 'entry', 'link', 'url', 'sitemap']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  // Entities are decoded, DOCTYPE-declared ones within the parser's bounds (100 entities, 1,000
  // expansions, 100,000 characters), so an entity-expansion bomb fails instead of growing.
  processEntities: { enabled: true, maxEntityCount: 100, maxTotalExpansions: 1000, maxExpandedLength: 100_000 },
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name: string) => REPEATED.has(name),
});

type Node = Record<string, unknown>;

function asNode(value: unknown): Node | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : null;
}

function list(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** The text of an element or attribute (entities already decoded by the parser), trimmed; null when empty. */
function text(value: unknown): string | null {
  let raw: unknown = value;
  const node = asNode(value);
  if (node) raw = node['#text'];
  if (typeof raw !== 'string') return null;
  const trimmed = raw.trim();
  return trimmed === '' ? null : trimmed;
}

function absolute(link: string | null, base: string): string | null {
  if (link === null) return null;
  try {
    return new URL(link, base).href;
  } catch {
    return null;
  }
}

function collect(values: (string | null)[]): string[] {
  return values.filter((value): value is string => value !== null);
}

function rssLinks(items: unknown[], base: string): string[] {
  return collect(
    items.map((item) => {
      const node = asNode(item);
      if (!node) return null;
      const link = list(node.link).map(text).find((value) => value !== null) ?? null;
      if (link) return absolute(link, base);
      // No <link>: a <guid> is the permalink unless it says isPermaLink="false".
      const guid = asNode(node.guid);
      const guidText = text(node.guid);
      if (guidText && guid?.['@isPermaLink'] !== 'false' && /^https?:/i.test(guidText)) return absolute(guidText, base);
      return null;
    }),
  );
}

function atomLinks(feed: Node, base: string): string[] {
  const feedBase = absolute(text(feed['@base']), base) ?? base;
  return collect(
    list(feed.entry).map((entry) => {
      const node = asNode(entry);
      if (!node) return null;
      const entryBase = absolute(text(node['@base']), feedBase) ?? feedBase;
      const links = list(node.link).map(asNode).filter((link): link is Node => link !== null);
      // rel defaults to "alternate"; prefer an HTML one.
      const alternates = links.filter((link) => (text(link['@rel']) ?? 'alternate') === 'alternate');
      const chosen = alternates.find((link) => (text(link['@type']) ?? 'text/html').includes('html')) ?? alternates[0];
      return chosen ? absolute(text(chosen['@href']), entryBase) : null;
    }),
  );
}

function jsonFeed(body: string, base: string): ParsedFeed {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    throw new FeedFormatError('The document is not valid JSON.');
  }
  const feed = asNode(data);
  if (!feed || typeof feed.version !== 'string' || !feed.version.startsWith('https://jsonfeed.org/version/') || !Array.isArray(feed.items)) {
    throw new FeedFormatError('The JSON document is not a JSON Feed (it needs "version": "https://jsonfeed.org/version/1.1" and "items").');
  }
  const links = feed.items.map((item) => {
    const node = asNode(item);
    const url = typeof node?.url === 'string' ? node.url : typeof node?.external_url === 'string' ? node.external_url : null;
    return absolute(url, base);
  });
  return { kind: 'json-feed', links: collect(links) };
}

/**
 * Parses `body` (fetched from `baseUrl`) and returns its links. Throws {@link FeedFormatError} for
 * anything that is not one of the supported kinds.
 */
export function parseFeed(body: string, baseUrl: string): ParsedFeed {
  const start = body.trimStart().replace(/^\uFEFF/, '');
  if (start.startsWith('{')) return jsonFeed(start, baseUrl);
  if (!start.startsWith('<')) throw new FeedFormatError('The document is neither XML nor JSON.');
  let document: Node;
  try {
    document = parser.parse(start, true) as Node;
  } catch (error) {
    throw new FeedFormatError(`The XML is not well-formed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  const rss = asNode(document.rss);
  if (rss) return { kind: 'rss', links: rssLinks(list(asNode(rss.channel)?.item), baseUrl) };
  const rdf = asNode(document.RDF);
  if (rdf) return { kind: 'rdf', links: rssLinks(list(rdf.item), baseUrl) };
  const atom = asNode(document.feed);
  if (atom) return { kind: 'atom', links: atomLinks(atom, baseUrl) };
  const urlset = asNode(document.urlset);
  if (urlset) return { kind: 'sitemap', links: collect(list(urlset.url).map((entry) => absolute(text(asNode(entry)?.loc), baseUrl))) };
  const index = asNode(document.sitemapindex);
  if (index) return { kind: 'sitemap-index', links: collect(list(index.sitemap).map((entry) => absolute(text(asNode(entry)?.loc), baseUrl))) };
  const root = Object.keys(document).find((key) => !key.startsWith('?') && !key.startsWith('#')) ?? 'nothing';
  throw new FeedFormatError(`The XML document is <${root}>, not an RSS, Atom or RDF feed, a sitemap or a sitemap index.`);
}
