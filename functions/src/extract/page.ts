import type { CheerioAPI } from 'cheerio/slim';
import { attr, collapse, decodeLeftoverEntities, elementsIn, parseHtml } from './dom';
import type { AnyNode, Element } from './dom';
import { findMainContent } from './content';
import type { MainContent } from './content';
import { flattenJsonLd, parseJsonLd } from './jsonld';
import type { JsonLdNode } from './jsonld';
import { documentBase } from './urls';

/**
 * Everything a field rule may read, computed once per page and lazily: the parsed tree, the `<meta>`
 * index, JSON-LD nodes and the main content. Rules never re-parse or re-scan the whole document.
 */
export interface Page {
  readonly $: CheerioAPI;
  readonly root: AnyNode;
  readonly pageUrl: string;
  /** The URL relative references resolve against (`<base href>`, else the page URL); null when neither is http(s). */
  readonly base: string | null;
  /** Milliseconds since the epoch that count as "now" for rejecting future dates. */
  readonly now: number;
  /** `content` values of `<meta>` tags whose property/name/itemprop/http-equiv equals `key` (case-insensitive), in order. */
  meta(key: string): string[];
  /** The first non-blank meta value among the keys, in the order of the keys, as text (entities left by double escaping decoded). */
  firstMeta(...keys: string[]): string | null;
  /** Every JSON-LD object with an `@type`, in document order (`@graph`, arrays and nesting flattened). */
  jsonLd(): readonly JsonLdNode[];
  /** The article body (null for a document without elements). */
  main(): MainContent | null;
  /** All elements in document order (computed once). */
  elements(): readonly Element[];
  /** Elements with this (lower-case) tag name, in document order. */
  byTag(name: string): readonly Element[];
  /** Elements carrying an `itemprop` attribute, in document order. */
  withItemprop(): readonly Element[];
}

export function createPage(html: string, pageUrl: string, now: number): Page {
  const $ = parseHtml(html);
  const root = $.root()[0] as AnyNode;
  let all: Element[] | undefined;
  const elements = (): Element[] => (all ??= elementsIn(root));
  // One pass files every element by tag, so that rules looking for <meta>, <time> or <h1> don't each
  // scan a 100k-element page.
  let tags: Map<string, Element[]> | undefined;
  let itemprops: Element[] | undefined;
  const index = (): Map<string, Element[]> => {
    if (tags) return tags;
    tags = new Map();
    itemprops = [];
    for (const el of elements()) {
      const list = tags.get(el.name);
      if (list) list.push(el);
      else tags.set(el.name, [el]);
      if (el.attribs['itemprop'] !== undefined) itemprops.push(el);
    }
    return tags;
  };
  const byTag = (name: string): Element[] => index().get(name) ?? [];

  let metaIndex: Map<string, string[]> | undefined;
  const metaMap = (): Map<string, string[]> => {
    if (metaIndex) return metaIndex;
    metaIndex = new Map();
    for (const el of byTag('meta')) {
      const content = attr(el, 'content') ?? attr(el, 'value');
      if (content === null) continue;
      for (const keyAttr of ['property', 'name', 'itemprop', 'http-equiv']) {
        const keys = attr(el, keyAttr);
        if (!keys) continue;
        // RDFa allows several space-separated properties in one attribute.
        for (const key of keys.toLowerCase().split(/\s+/)) {
          const list = metaIndex.get(key);
          if (list) list.push(content);
          else metaIndex.set(key, [content]);
        }
      }
    }
    return metaIndex;
  };

  let ld: JsonLdNode[] | undefined;
  const jsonLd = (): JsonLdNode[] => {
    if (ld) return ld;
    ld = [];
    for (const el of byTag('script')) {
      const type = (el.attribs['type'] ?? '').toLowerCase();
      if (!type.includes('ld+json')) continue;
      const text = el.children.map((c) => (c as unknown as { data?: string }).data ?? '').join('');
      flattenJsonLd(parseJsonLd(text), ld);
    }
    return ld;
  };

  let mainContent: MainContent | null | undefined;
  const baseEl = byTag('base').find((el) => el.attribs['href'] !== undefined);
  const page: Page = {
    $,
    root,
    pageUrl,
    base: documentBase(pageUrl, baseEl ? attr(baseEl, 'href') : null),
    now,
    meta: (key) => metaMap().get(key.toLowerCase()) ?? [],
    firstMeta: (...keys) => {
      for (const k of keys) {
        for (const v of page.meta(k)) {
          const c = collapse(decodeLeftoverEntities(v));
          if (c) return c;
        }
      }
      return null;
    },
    jsonLd,
    main: () => (mainContent === undefined ? (mainContent = findMainContent(root, elements())) : mainContent),
    elements,
    byTag,
    withItemprop: () => {
      index();
      return itemprops!;
    },
  };
  return page;
}
