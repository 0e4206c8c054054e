import { collapse, elementsIn, textOf } from './dom';
import { nodesWith, stringsOf } from './jsonld';
import type { Page } from './page';
import type { Rule } from './rules';
import { siteNameRules } from './metadata';
import { firstGood } from './rules';

/** Separators publishers put between a headline and the site name. */
const SEPARATOR = /\s+(?:[|\-–—·•»«›‹:/\\~]|::|\/\/)\s+/;

/** Lower-case letters and digits only, for comparing a title segment with a site name. */
export function squash(s: string): string {
  return s.normalize('NFKD').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/** Names the site goes by: declared site names and the registrable part of the host ("zdnet" for www.zdnet.com). */
function siteNames(page: Page): string[] {
  const names: string[] = [];
  const declared = firstGood(siteNameRules, page);
  if (declared) names.push(declared.value);
  for (const k of ['application-name', 'apple-mobile-web-app-title', 'twitter:site', 'og:site_name', 'publisher']) {
    for (const v of page.meta(k)) names.push(v.replace(/^@/, ''));
  }
  for (const n of nodesWith(page.jsonLd(), 'publisher')) names.push(...stringsOf(n['publisher']));
  // "Headline | Author Name" is as much a byline as "Headline | Site".
  for (const k of ['author', 'article:author', 'parsely-author']) for (const v of page.meta(k)) names.push(v);
  for (const n of nodesWith(page.jsonLd(), 'author')) names.push(...stringsOf(n['author'], ['name']));
  try {
    const host = new URL(page.pageUrl).hostname.replace(/^www\d*\./, '');
    const labels = host.split('.');
    names.push(labels.length > 1 ? labels[labels.length - 2]! : host, host);
  } catch {
    // No usable page URL: only declared names.
  }
  return names.map(squash).filter((n) => n.length >= 2);
}

/** True when a title segment names the site rather than the article. */
function isSiteSegment(segment: string, names: readonly string[]): boolean {
  const s = squash(segment);
  if (s === '') return true;
  return names.some((n) => s === n || (n.length >= 4 && (s.startsWith(n) || s.endsWith(n)) && s.length <= n.length + 12));
}

/**
 * Removes what is not the headline: a trailing "(Published 2017)", and leading or trailing segments
 * that name the site or the author ("Headline | Site", "Site - Headline", "Headline | Author | Site").
 * Only segments that match a known name go, so a headline with a dash in it survives.
 */
export function cleanTitle(raw: string, page: Page): string | null {
  let title = collapse(raw).replace(/\s*\((?:published|updated)\s+\d{4}\)\s*$/i, '');
  if (title === '') return null;
  const names = siteNames(page);
  for (let i = 0; i < 3; i++) {
    const parts = title.split(SEPARATOR);
    if (parts.length < 2) break;
    const seps = title.match(new RegExp(SEPARATOR, 'g')) ?? [];
    const last = parts[parts.length - 1]!;
    const first = parts[0]!;
    if (isSiteSegment(last, names)) {
      const cut = title.lastIndexOf(seps[seps.length - 1]!);
      title = title.slice(0, cut).trim();
    } else if (isSiteSegment(first, names) && !SEPARATOR.test(first)) {
      title = title.slice(first.length + seps[0]!.length).trim();
    } else break;
  }
  return title === '' ? null : title;
}

/** Headings often end in a permalink anchor ("Setup ¶", "Setup #"). */
export function stripPermalink(text: string): string {
  return text.replace(/\s*[¶#§🔗]+$/u, '').trim();
}

/** Text of the headline element: the page's h1 when there is exactly one that reads like a headline. */
function headlineElement(page: Page): string | null {
  const h1s = page.byTag('h1');
  const texts = h1s.map((h) => textOf(h)).filter((t) => t.length > 0);
  if (texts.length === 1) return stripPermalink(texts[0]!);
  const main = page.main();
  if (main) {
    for (const r of main.roots) {
      for (const el of [r, ...elementsIn(r)]) if (el.name === 'h1') return stripPermalink(textOf(el)) || null;
    }
  }
  return null;
}

/** Word count of a title segment (CJK text counts a word per two characters). */
function wordsIn(s: string): number {
  const cjk = (s.match(/[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]/g) ?? []).length;
  return s.split(/\s+/).filter(Boolean).length + Math.floor(cjk / 2);
}

/**
 * The `<title>` element usually reads "Headline | Site" even when the site is not declared anywhere.
 * After the known names are removed, a remaining tail is dropped when the page's h1 is exactly the
 * head, or when the tail is short (≤ 3 words) beside a head of 3+ words — the shape of a site name.
 */
export function trimTitleElement(title: string, h1: string | null): string {
  const parts = title.split(SEPARATOR);
  if (parts.length < 2) return title;
  const seps = title.match(new RegExp(SEPARATOR, 'g')) ?? [];
  const cut = title.lastIndexOf(seps[seps.length - 1]!);
  const head = title.slice(0, cut).trim();
  const tail = title.slice(cut + seps[seps.length - 1]!.length).trim();
  if (h1) {
    const sh = squash(h1);
    if (sh === squash(parts[0]!) && sh.length >= 6) return parts[0]!.trim();
    if (sh === squash(head)) return head;
    if (sh === squash(title)) return title;
  }
  if (wordsIn(tail) <= 3 && wordsIn(head) >= 3 && !/[:]\s*$/.test(head)) return head;
  return title;
}

/** Headline and name of a JSON-LD article: when they differ, the one closer to `<title>` wins. */
function jsonLdHeadline(page: Page): string | null {
  const docTitle = squash(documentTitle(page) ?? '');
  for (const n of nodesWith(page.jsonLd(), 'headline')) {
    const headline = stringsOf(n['headline']).map(collapse).find((v) => v !== '');
    if (!headline) continue;
    const name = stringsOf(n['name']).map(collapse).find((v) => v !== '');
    if (name && name !== headline && docTitle) {
      const hs = squash(headline);
      const ns = squash(name);
      if (!docTitle.includes(hs) && docTitle.includes(ns)) return name;
    }
    return headline;
  }
  return null;
}

function documentTitle(page: Page): string | null {
  const el = page.byTag('title')[0];
  if (!el) return null;
  return collapse(el.children.map((c) => (c as unknown as { data?: string }).data ?? '').join('')) || null;
}

const fromMeta = (name: string, ...keys: string[]): Rule<Page, string> => ({
  name,
  run: (page) => {
    const v = page.firstMeta(...keys);
    return v ? cleanTitle(v, page) : null;
  },
});

/**
 * Title rules, strongest first. Declared metadata beats markup: the JSON-LD headline, Dublin Core and
 * Open Graph titles are written for machines, while `<title>` carries site names and `<h1>` is sometimes
 * the section or the logo.
 */
export const titleRules: readonly Rule<Page, string>[] = [
  {
    name: 'jsonld.headline',
    run: (page) => {
      const v = jsonLdHeadline(page);
      return v ? cleanTitle(v, page) : null;
    },
  },
  fromMeta('dc.title', 'dc:title', 'dc.title', 'dcterms.title', 'dcterm:title'),
  fromMeta('og:title', 'og:title'),
  fromMeta('twitter:title', 'twitter:title', 'sailthru.title', 'parsely-title', 'title', 'headline'),
  {
    name: 'title-element',
    run: (page) => {
      const text = documentTitle(page);
      const cleaned = text ? cleanTitle(text, page) : null;
      return cleaned ? trimTitleElement(cleaned, headlineElement(page)) : null;
    },
  },
  {
    name: 'h1',
    run: (page) => {
      const h = headlineElement(page);
      return h ? cleanTitle(h, page) : null;
    },
  },
];
