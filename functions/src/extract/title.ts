import { collapse, elementsIn, textOf } from './dom';
import type { Element } from './dom';
import { nodesWith, stringsOf } from './jsonld';
import type { Page } from './page';
import type { Rule } from './rules';
import { siteNameRules } from './metadata';
import { firstGood } from './rules';

/**
 * Separators publishers put between a headline and the site or section name: spaced ASCII ones
 * (" | ", " - ", " :: "), full-width ones (｜ ︱ ：) with or without spaces, and `_ | : -` written
 * without spaces next to CJK text ("見出し:サイト名", "标题_栏目_网站").
 */
const SEPARATOR = /\s+(?:[|\-–—·•»«›‹:/\\~_]|::|\/\/)\s+|\s*[｜︱]\s*|\s*：\s*|(?<=[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}」』）】。])\s*[_|:\-]\s*|\s*_\s*(?=[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])/u;
const SEPARATORS = new RegExp(SEPARATOR.source, 'gu');

/** Section labels that stand before a headline ("Opinion | …", "Analysis: …"). */
const SECTION_PREFIX = /^(?:opinion|analysis|editorial|review|exclusive|explainer|interview|commentary|column|perspective|podcast|video|watch|live|letters?|op-ed|r\/[\w-]+)$/i;
/** Company names that close a `<title>`: "Headline | Example Ltd", "見出し｜サンプル株式会社". */
const COMPANY = /(?:\b(?:inc|ltd|llc|gmbh|plc|corp|corporation|limited)\.?|株式会社|有限会社|有限公司|股份有限公司|公司)$/iu;

/** Lower-case letters and digits only, for comparing a title segment with a site name. */
export function squash(s: string): string {
  return s.normalize('NFKD').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

const siteNamesOf = new WeakMap<Page, string[]>();

/** Names the site goes by: declared site names and the registrable part of the host ("zdnet" for www.zdnet.com). */
function siteNames(page: Page): string[] {
  let names = siteNamesOf.get(page);
  if (!names) siteNamesOf.set(page, (names = collectSiteNames(page)));
  return names;
}

function collectSiteNames(page: Page): string[] {
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

/** A title cut into segments at its separators, with the separators between them. */
function segments(title: string): { parts: string[]; seps: string[] } {
  const parts: string[] = [];
  const seps: string[] = [];
  let at = 0;
  for (const m of title.matchAll(SEPARATORS)) {
    const index = m.index ?? 0;
    if (index === 0 || index + m[0].length >= title.length) continue;
    parts.push(title.slice(at, index));
    seps.push(m[0]);
    at = index + m[0].length;
  }
  parts.push(title.slice(at));
  return { parts, seps };
}

const join = (parts: readonly string[], seps: readonly string[]): string =>
  parts.map((p, i) => (i === 0 ? p : seps[i - 1]! + p)).join('').trim();

/** A segment short enough to be a section name beside its headline (≤ 2 words, ≤ 4 CJK characters). */
function sectionLike(segment: string, head: string): boolean {
  const cjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u.test(segment);
  const short = cjk ? [...segment.trim()].length <= 4 : segment.trim().split(/\s+/).length <= 2;
  return short && head.length >= segment.length * 3;
}

/**
 * Removes what is not the headline: a trailing "(Published 2017)", and leading or trailing segments
 * that name the site, its publisher, a company or the author ("Headline | Site", "Site - Headline",
 * "Headline | Author | Site", "Site: Headline"), a section just before a cut site name
 * ("Headline_Section_Site"), and section labels in front ("Opinion | Headline", "r/community - Headline").
 * Only segments that match a known name or label go, so a headline with a colon or a dash survives.
 */
export function cleanTitle(raw: string, page: Page): string | null {
  let title = collapse(raw).replace(/\s*\((?:published|updated)\s+\d{4}\)\s*$/i, '');
  if (title === '') return null;
  const names = siteNames(page);
  for (let i = 0; i < 4; i++) {
    const { parts, seps } = segments(title);
    if (parts.length < 2) break;
    const last = parts[parts.length - 1]!;
    const first = parts[0]!;
    if (isSiteSegment(last, names) || COMPANY.test(last.trim())) {
      parts.pop();
      const sep = seps.pop()!;
      // "Headline_Section_Site": the section goes with the site when the same separator sets it off.
      if (parts.length >= 2 && seps[seps.length - 1]!.trim() === sep.trim() && sectionLike(parts[parts.length - 1]!, join(parts.slice(0, -1), seps))) {
        parts.pop();
        seps.pop();
      }
      title = join(parts, seps).replace(/[。．.]$/u, (d) => (/[。．]/u.test(d) ? '' : d));
    } else if (isSiteSegment(first, names) || SECTION_PREFIX.test(first.trim())) {
      title = join(parts.slice(1), seps.slice(1));
    } else break;
  }
  // "Site: Headline" (a colon without a space before it), when more than a word is left.
  const prefix = /^([^:：]{2,40})[:：]\s+(.+)$/u.exec(title);
  if (prefix && names.includes(squash(prefix[1]!)) && prefix[2]!.trim().split(/\s+/).length >= 2) title = prefix[2]!.trim();
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

/**
 * The `<h1>` that heads the article body: inside the main content, or in the article element or
 * the container (at most three levels up) that holds it. An `<h1>` elsewhere is often the site's or
 * the section's name, so it is no better evidence than the metadata.
 */
function articleHeadline(page: Page): string | null {
  const main = page.main();
  const root = main?.roots[0];
  if (!root) return null;
  const near = new Set<Element>();
  let p: Element | null = root;
  for (let level = 0; p && p.type === 'tag' && p.name !== 'body' && level < 4; level++, p = p.parent as Element | null) near.add(p);
  for (const h of page.byTag('h1')) {
    for (let a = h.parent as Element | null; a && a.type === 'tag' && a.name !== 'body'; a = a.parent as Element | null) {
      if (near.has(a) || a.name === 'article' || main.roots.includes(a)) {
        const text = stripPermalink(textOf(h));
        if (text) return text;
        break;
      }
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
  const { parts, seps } = segments(title);
  if (parts.length < 2) return title;
  const head = join(parts.slice(0, -1), seps.slice(0, -1));
  const tail = parts[parts.length - 1]!.trim();
  if (h1) {
    const sh = squash(h1);
    if (sh === squash(parts[0]!) && sh.length >= 6) return parts[0]!.trim();
    if (sh === squash(head)) return head;
    if (sh === squash(title)) return title;
  }
  if (wordsIn(tail) <= 3 && wordsIn(head) >= 3 && !/[:]\s*$/.test(head)) {
    // "Headline_Section_Site": the section goes with the site when the same separator sets it off.
    const n = parts.length - 1;
    if (n >= 2 && seps[n - 2]!.trim() === seps[n - 1]!.trim() && sectionLike(parts[n - 1]!, join(parts.slice(0, n - 1), seps))) {
      return join(parts.slice(0, n - 1), seps);
    }
    return head;
  }
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
 * Metadata title rules, strongest first. Declared metadata beats markup: the JSON-LD headline, Dublin Core and
 * Open Graph titles are written for machines, while `<title>` carries site names and `<h1>` is sometimes
 * the section or the logo.
 */
const metadataTitleRules: readonly Rule<Page, string>[] = [
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

/**
 * True when a metadata title vouches for the headline: the same words, or the headline followed by
 * an affix ("Headline ｜ Site", "Headline — Section") that the affix rules did not know.
 */
function corroborates(metaTitle: string, headline: string): boolean {
  const m = squash(metaTitle);
  const h = squash(headline);
  if (h === '' || m === '') return false;
  return m === h || (m.startsWith(h) && h.length >= m.length * 0.6 && metaTitle.length > headline.length && /^\s*[|｜:：\-–—_·•/\\~«»]/.test(collapse(metaTitle).slice(collapse(headline).length)));
}

/**
 * Title rules. The article's own `<h1>` is the headline its reader sees, and it wins when one of
 * the metadata titles vouches for it (the same text, or the text before an affix); otherwise the
 * metadata, strongest first: the JSON-LD headline, Dublin Core and Open Graph titles are written for
 * machines, while `<title>` carries site names and a lone `<h1>` is sometimes the section or the logo.
 */
/** A rule whose value is computed once per page: the h1 rule reads every metadata title, and so does the chain after it. */
function once(rule: Rule<Page, string>): Rule<Page, string> {
  const values = new WeakMap<Page, string | null>();
  return {
    name: rule.name,
    run: (page) => {
      if (!values.has(page)) values.set(page, rule.run(page) ?? null);
      return values.get(page);
    },
  };
}

const metadataTitles = metadataTitleRules.map(once);

export const titleRules: readonly Rule<Page, string>[] = [
  {
    name: 'article-h1',
    run: (page) => {
      const h = articleHeadline(page);
      if (!h || h.length > 300) return null;
      const cleaned = cleanTitle(h, page);
      if (!cleaned) return null;
      for (const rule of metadataTitles) {
        if (rule.name === 'h1') continue;
        const v = rule.run(page);
        if (v && corroborates(v, cleaned)) return cleaned;
      }
      return null;
    },
  },
  ...metadataTitles,
];
