import { attr, elementsIn, textOf } from './dom';
import type { Element } from './dom';
import { findDateInText, plausibleDate } from './dates';
import type { DayMonthOrder, ParsedDate } from './dates';
import { nodesWith, parseJsonLd, stringsOf } from './jsonld';
import type { Page } from './page';
import type { Rule } from './rules';

/** A date and the text it was read from. */
export interface DateHit {
  date: ParsedDate;
  raw: string;
}

/**
 * How the page writes numeric dates: month first (03/04/2019 is March 4) for US English and pages
 * that don't say their language, day first for every other language and region.
 */
export function dayMonthOrder(page: Page): DayMonthOrder {
  const html = page.byTag('html')[0];
  const lang = (html ? (html.attribs['lang'] ?? html.attribs['xml:lang'] ?? '') : '') || (page.firstMeta('og:locale', 'content-language') ?? '');
  return lang === '' || /^en(?:[-_]us)?$/i.test(lang.trim()) ? 'mdy' : 'dmy';
}

function first(page: Page, raws: readonly (string | null | undefined)[]): DateHit | null {
  const order = dayMonthOrder(page);
  for (const raw of raws) {
    if (!raw) continue;
    const date = plausibleDate(raw, page.now, order);
    if (date) return { date, raw: raw.trim() };
  }
  return null;
}

const fromJsonLd = (key: string): Rule<Page, DateHit> => ({
  name: `jsonld.${key}`,
  run: (page) => first(page, nodesWith(page.jsonLd(), key).flatMap((n) => stringsOf(n[key]))),
});

const fromMeta = (name: string, keys: readonly string[]): Rule<Page, DateHit> => ({
  name,
  run: (page) => first(page, keys.flatMap((k) => page.meta(k))),
});

/** Where a microdata or markup element keeps its machine-readable date. */
function dateValue(el: Element): string | null {
  return attr(el, 'datetime') ?? attr(el, 'content') ?? attr(el, 'title') ?? attr(el, 'data-datetime') ?? (textOf(el) || null);
}

const MODIFIED = /modif|updat|edited|revis/i;
/** Parts of a page whose dates belong to other articles (comments, teasers, recommendations). */
const OTHER_ARTICLES = /comment|related|recirc|promo|teaser|more-stories|trending|popular/i;
/** Page furniture: its dates are the article's only when it sits inside the article's own container. */
const FURNITURE = /sidebar|footer|widget/i;
/** Containers of one article: `<article>`, `<main>`, and the classes blog themes give a post. */
const ARTICLE_CONTAINER = /(?:^|\s)(?:hentry|h-entry|post|entry|article|story|blog-post)(?:\s|$)/i;

/**
 * True for an element in comments or teasers of other articles, or in page furniture (`<nav>`,
 * `<footer>`, `<aside>`, sidebar/footer/widget classes) outside any article container: a `<time>`
 * in an article's own header or footer counts even when a layout class around it says "sidebar".
 */
function inOtherContext(el: Element): boolean {
  let furniture = false;
  for (let p = el.parent as Element | null; p && p.type === 'tag' && p.name !== 'body'; p = p.parent as Element | null) {
    const ci = `${p.attribs['class'] ?? ''} ${p.attribs['id'] ?? ''}`;
    if (ci.length > 1 && OTHER_ARTICLES.test(ci)) return true;
    if (p.name === 'article' || p.name === 'main' || ARTICLE_CONTAINER.test(p.attribs['class'] ?? '')) return false;
    if (p.name === 'nav' || p.name === 'footer' || p.name === 'aside' || (ci.length > 1 && FURNITURE.test(ci))) furniture = true;
  }
  return furniture;
}

function marksModified(el: Element): boolean {
  const ci = `${el.attribs['class'] ?? ''} ${el.attribs['id'] ?? ''} ${el.attribs['itemprop'] ?? ''}`;
  if (MODIFIED.test(ci)) return true;
  // "Updated <time>" — the label sits just before the element.
  const prev = el.prev;
  if (prev && prev.type === 'text' && /(updated|modified|edited)\s*:?\s*$/i.test((prev as unknown as { data: string }).data)) return true;
  return false;
}

/** The main content and its surrounding article element: where the article's own byline lives. */
function articleRegions(page: Page): Element[] {
  const main = page.main();
  if (!main) return [];
  const regions: Element[] = [];
  const firstRoot = main.roots[0];
  if (firstRoot) {
    for (let p = firstRoot.parent as Element | null; p && p.type === 'tag'; p = p.parent as Element | null) {
      if (p.name === 'article' || /\b(article|post|entry|story|hentry)\b/i.test(p.attribs['class'] ?? '')) {
        regions.push(p);
        break;
      }
    }
  }
  return [...regions, ...main.roots];
}

/** `<time>` elements of the article (not of comments or teasers), skipping update stamps. */
const timeElement: Rule<Page, DateHit> = {
  name: 'time',
  run: (page) => {
    const consider = (els: readonly Element[]): DateHit | null => {
      for (const el of els) {
        if (el.name !== 'time' || marksModified(el) || inOtherContext(el)) continue;
        const hit = first(page, [attr(el, 'datetime'), textOf(el, undefined, 200)]);
        if (hit) return hit;
      }
      return null;
    };
    // time[pubdate] is the HTML5-draft way of saying "this one is the publication date".
    const pubdate = consider(page.byTag('time').filter((el) => el.attribs['pubdate'] !== undefined));
    if (pubdate) return pubdate;
    for (const region of articleRegions(page)) {
      const hit = consider(elementsIn(region));
      if (hit) return hit;
    }
    const all = page.byTag('time');
    return all.length <= 3 ? consider(all) : null;
  },
};

/** Elements whose class says "this is the post date" (common in blog themes). */
const DATE_CLASS = /(^|[\s_-])(published|pubdate|post-?date|entry-?date|publish-?date|date-?published|article-?date|posted-?on|dateline|story-?date|timestamp|byline|date)($|[\s_-])/i;

const classedDate: Rule<Page, DateHit> = {
  name: 'date-class',
  run: (page) => {
    for (const el of page.elements()) {
      const cls = el.attribs['class'];
      const id = el.attribs['id'];
      if (cls === undefined && id === undefined) continue;
      const ci = `${cls ?? ''} ${id ?? ''}`;
      if (!DATE_CLASS.test(ci) || MODIFIED.test(ci) || inOtherContext(el)) continue;
      const direct = first(page, [attr(el, 'datetime'), attr(el, 'content'), attr(el, 'title')]);
      if (direct) return direct;
      const text = textOf(el, undefined, 300);
      const found = findDateInText(text, page.now, dayMonthOrder(page));
      if (found) return { date: found.date, raw: found.raw };
    }
    return null;
  },
};

/** "/2015/03/10/slug" — many CMSs put the publication day in the path. */
const urlDate: Rule<Page, DateHit> = {
  name: 'url-path',
  run: (page) => {
    let path: string;
    try {
      path = new URL(page.pageUrl).pathname;
    } catch {
      return null;
    }
    const m = /\/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:\/|-|$|\.)/.exec(path);
    if (!m) return null;
    const raw = `${m[1]}-${m[2]!.padStart(2, '0')}-${m[3]!.padStart(2, '0')}`;
    const hit = first(page, [raw]);
    return hit ? { date: hit.date, raw: m[0] } : null;
  },
};

/**
 * Publication dates in a page's inline data (`__NEXT_DATA__`, CMS state objects), as a JSON member
 * whose name says "published" ("datePublished", "publishedAt", "pub_date", "inc_pubdate", …). The
 * first one in the document wins: page state lists the article before its recommendations.
 */
const SCRIPT_DATE = /"[\w$-]{0,24}?(?:date_?published|published_?(?:at|date|time|on)|pub(?:lish)?_?date|first_?published(?:_?at|_?date)?|publish_?time)"\s*:\s*"([^"]{8,40})"/i;

const scriptData: Rule<Page, DateHit> = {
  name: 'script-data',
  run: (page) => {
    for (const el of page.byTag('script')) {
      const type = (el.attribs['type'] ?? '').toLowerCase();
      if (type.includes('ld+json') || (type !== '' && !type.includes('json') && !type.includes('javascript'))) continue;
      for (const c of el.children) {
        const data = (c as unknown as { data?: string }).data;
        if (!data) continue;
        const m = SCRIPT_DATE.exec(data);
        if (m) {
          const hit = first(page, [m[1]!.replace(/\\\//g, '/')]);
          if (hit) return hit;
        }
      }
    }
    return null;
  },
};

/**
 * The containers around the article's `<h1>` (up to three levels, never the whole body): the
 * dateline often sits in a header beside the headline, outside the main content.
 */
function headlineRegions(page: Page): Element[] {
  const h1s = page.byTag('h1');
  const h1 = h1s.length === 1 ? h1s[0] : h1s.find((h) => !inOtherContext(h));
  const out: Element[] = [];
  for (let p = h1?.parent as Element | null | undefined, level = 0; p && p.type === 'tag' && p.name !== 'body' && p.name !== 'html' && level < 3; p = p.parent as Element | null, level++) {
    out.push(p);
  }
  return out;
}

/**
 * The texts the last-resort rule reads a written date from, in order: the opening of each article
 * region, then of the containers around the headline (the first 1,500 characters of each).
 */
export function openingTexts(page: Page): string[] {
  return [...articleRegions(page), ...headlineRegions(page)].map((region) => textOf(region, undefined, 1500));
}

/** Last resort: a written-out date at the top of the article text or beside its headline. */
const visibleDate: Rule<Page, DateHit> = {
  name: 'visible-text',
  run: (page) => {
    const order = dayMonthOrder(page);
    for (const text of openingTexts(page)) {
      const found = findDateInText(text, page.now, order);
      if (found) return { date: found.date, raw: found.raw };
    }
    return null;
  },
};

const microdata = (prop: string): Rule<Page, DateHit> => ({
  name: `itemprop.${prop}`,
  run: (page) => {
    const re = new RegExp(`(^|\\s)${prop}(\\s|$)`, 'i');
    return first(
      page,
      page.withItemprop().filter((el) => re.test(el.attribs['itemprop'] ?? '')).map(dateValue),
    );
  },
});

/** parse.ly's page metadata: a JSON object in `<meta name="parsely-page">`. */
const parselyPage: Rule<Page, DateHit> = {
  name: 'parsely-page',
  run: (page) => {
    for (const v of page.meta('parsely-page')) {
      const obj = parseJsonLd(v);
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        const pub = (obj as Record<string, unknown>)['pub_date'];
        if (typeof pub === 'string') return first(page, [pub]);
      }
    }
    return null;
  },
};

/** Publication date rules, strongest first. None of them reads a modification date. */
export const publishedRules: readonly Rule<Page, DateHit>[] = [
  fromJsonLd('datePublished'),
  fromMeta('article:published_time', ['article:published_time', 'og:article:published_time', 'article:published', 'og:published_time', 'published_time']),
  microdata('datePublished'),
  fromMeta('meta.publication', [
    'pubdate', 'publishdate', 'publish-date', 'publish_date', 'published-date', 'publication_date', 'publication-date',
    'date_published', 'datepublished', 'article.published', 'article_date_original', 'original-publish-date',
    'parsely-pub-date', 'sailthru.date', 'citation_publication_date', 'citation_date', 'citation_online_date',
    'dc.date.issued', 'dcterms.issued', 'dc.date.created', 'dcterms.created', 'dc.date', 'dcterms.date',
    'date', 'og:pubdate', 'cxenseparse:recs:publishtime', 'article.created', 'dc.created', 'content_create_date',
    'rnews:datepublished', 'pdate', 'displaydate', 'live_date', 'release_date', 'created', 'creation_date',
  ]),
  parselyPage,
  fromJsonLd('dateCreated'),
  microdata('dateCreated'),
  timeElement,
  classedDate,
  urlDate,
  scriptData,
  visibleDate,
];

export const modifiedRules: readonly Rule<Page, DateHit>[] = [
  fromJsonLd('dateModified'),
  fromMeta('article:modified_time', ['article:modified_time', 'og:updated_time', 'article:modified', 'og:article:modified_time', 'modified_time', 'updated_time']),
  microdata('dateModified'),
  fromMeta('meta.modified', ['last-modified', 'dc.date.modified', 'dcterms.modified', 'lastmod', 'date_modified', 'datemodified', 'revised', 'parsely-updated', 'sailthru.lastmodified']),
];
