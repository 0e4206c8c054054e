/** Who wrote the article: a list of names from structured data, markup and visible bylines, people before organisations. */
import { attr, collapse, decodeLeftoverEntities, textOf } from './dom';
import type { Element } from './dom';
import { deref, nodesWith, stringsOf, typesOf } from './jsonld';
import type { JsonLdNode } from './jsonld';
import type { Page } from './page';
import { squash } from './title';
import { absoluteHttpUrl } from './urls';

/** One name and whether the page marks it (or it reads) as an organisation rather than a person. */
interface Named {
  name: string;
  organisation: boolean;
}

/** Credits for pictures, not for the text. */
const CREDIT = /^(?:illustrations?|photo(?:graph)?s?|video|graphics?|images?)\s+(?:by|von|par|por)\b/i;

/** Most names a page lists for one article; a longer list is a staff page, not a byline. */
const MAX_AUTHORS = 10;

/** Words that make a name an organisation: company forms, newsrooms, collective bylines. */
const ORGANISATION_WORDS = /\b(?:inc|llc|ltd|gmbh|ag|corp|corporation|plc|co|s\.?a|company|media|news|newsroom|press|publishing|publications?|group|staff|team|editors|editorial|editorial board|redaktion|rédaction|redacción|redazione|desk|agency|wire|reuters|associated press|afp|magazine|network|studios?|foundation|university)\b|株式会社|編集部|编辑部/i;

/** Prefixes a byline puts before the names, in the major European languages and CJK. */
const BYLINE_PREFIX = /^(?:(?:written|posted|reported|words|story|text|published|compiled|edited)\s+)?by\s*[:：]?\s+|^(?:von|par|por|door|di|av|af|de)\s+|^(?:autor(?:in|a)?|author|auteur|著者|作者|文|記者|撰文|执笔|執筆)\s*[:：]\s*/i;

/**
 * Where the names of a byline end: a separator, a date or time, a role ("Staff Writer" after a
 * comma is kept out by the name test), or a phrase that introduces the date.
 */
const BYLINE_END = /\s+[|•·/]\s*|\s+[—–-]\s+|[|｜•·]|\s+(?:on|at|am|le|el|il|updated|published|posted|am|um)\s+(?=\S*\d)|\s*\b(?:updated|published|posted|modified)\b|\s*\d{1,4}[:/.年-]\d|\s+\d{1,2}\s+\p{L}+\s+\d{4}|\s+\p{L}{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\s*\(|\s*\n/iu;

/** Lower-case words that may stand inside a Latin-script name. */
const NAME_PARTICLES = new Set(['de', 'da', 'di', 'del', 'della', 'der', 'den', 'van', 'von', 'du', 'la', 'le', 'bin', 'ibn', 'al', 'el', 'y', 'e', 'dos', 'das', 'do', 'ter', 'zu', 'st.']);

const CJK_NAME = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}ー・ 　]{2,16}$/u;

/**
 * True when `s` reads as a person's or an organisation's name: a few capitalised words (initials,
 * hyphens, apostrophes and particles allowed) or a short CJK name; no digits, handles, URLs or sentences.
 */
export function looksLikeName(s: string, lenient = false): boolean {
  if (s.length < 2 || s.length > 80) return false;
  if (/[\d@<>{}=_#?!;:]|https?:|www\.|\.(?:com|org|net)\b/i.test(s)) return false;
  if (CJK_NAME.test(s)) return true;
  const words = s.split(' ');
  if (words.length > 6) return false;
  let capitalised = 0;
  for (const w of words) {
    if (NAME_PARTICLES.has(w.toLowerCase()) && capitalised > 0) continue;
    if (!(lenient ? /^[\p{L}][\p{L}\p{M}'’.-]*$/u : /^[\p{Lu}\p{Lt}][\p{L}\p{M}'’.-]*$/u).test(w)) return false;
    capitalised++;
  }
  return capitalised > 0;
}

/** "Surname, Given" (one comma, one word before it) becomes "Given Surname". */
export function givenFirst(s: string): string {
  const m = /^([\p{Lu}][\p{L}\p{M}'’-]+),\s*([\p{Lu}][\p{L}\p{M}'’.-]*(?:\s+[\p{Lu}][\p{L}\p{M}'’.-]*){0,2})$/u.exec(s);
  return m ? `${m[2]} ${m[1]}` : s;
}

/**
 * The names in one byline text: "By Ann Lee and Bo Ruiz | May 3, 2020" → ["Ann Lee", "Bo Ruiz"].
 * Returns [] when what follows the prefix is not a list of names.
 */
export function namesInByline(text: string, lenient = false): string[] {
  let s = collapse(decodeLeftoverEntities(text)).replace(BYLINE_PREFIX, '');
  const end = BYLINE_END.exec(s);
  if (end) s = s.slice(0, end.index);
  s = s.replace(/[\s,.;:]+$/, '').trim();
  if (s === '') return [];
  const single = givenFirst(s);
  if (single !== s || looksLikeName(s, lenient)) return [single];
  // "Illustration by …", "Photographs by …": credits for the pictures, not the text.
  s = s.replace(/\s*(?:[,;|]\s*|\s)(?:illustrations?|photo(?:graph)?s?|video|graphics?|images?)\s+(?:by|von|par|por)\s.*$/i, '');
  if (looksLikeName(s, lenient)) return [s];
  const parts = s.split(/\s*(?:,|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|、|，)\s*/u).map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length < 2 || parts.length > MAX_AUTHORS || !parts.every((p) => looksLikeName(p, lenient))) return [];
  return parts;
}

/** Names the site and its publisher go by, squashed, for telling a publisher from a writer. */
function organisationNames(page: Page): Set<string> {
  const names = new Set<string>();
  for (const key of ['og:site_name', 'application-name', 'apple-mobile-web-app-title', 'twitter:site', 'publisher', 'dc.publisher', 'copyright', 'citation_publisher']) {
    for (const v of page.meta(key)) {
      // "Copyright (c) Example Media 2022", "© 2020 Example".
      const s = squash(v.replace(/^@/, '').replace(/copyright|\(c\)|©|\d{4}|all rights reserved/gi, ' '));
      if (s.length >= 2) names.add(s);
    }
  }
  for (const n of nodesWith(page.jsonLd(), 'publisher')) {
    for (const v of stringsOf(deref(n['publisher'], page.jsonLd()), ['name'])) {
      const s = squash(v);
      if (s.length >= 2) names.add(s);
    }
  }
  try {
    const labels = new URL(page.pageUrl).hostname.replace(/^www\d*\./, '').split('.');
    names.add(squash(labels.length > 1 ? labels[labels.length - 2]! : labels[0]!));
  } catch {
    // No usable page URL: declared names only.
  }
  return names;
}

function isOrganisationName(name: string, orgs: ReadonlySet<string>): boolean {
  if (ORGANISATION_WORDS.test(name)) return true;
  const s = squash(name);
  for (const o of orgs) if (o.length >= 3 && (s === o || s.includes(o) || (s.length >= 4 && o.includes(s)))) return true;
  return false;
}

/** A profile URL stands for a name only when a link to it on the page says the name. */
function nameForProfileUrl(url: string, page: Page): string | null {
  const key = (u: string): string => u.replace(/^https?:\/\/(?:www\.)?/i, '').replace(/\/+$/, '').toLowerCase();
  const want = key(url);
  const last = want.split('/').pop() ?? '';
  if (last === '' || !want.includes('/')) return null;
  for (const a of page.byTag('a')) {
    const href = attr(a, 'href');
    // Cheap test first: a page can have thousands of links.
    if (!href || !href.toLowerCase().includes(last)) continue;
    const abs = absoluteHttpUrl(href, page.base);
    if (!abs || key(abs) !== want) continue;
    const text = collapse(textOf(a, undefined, 120));
    // "Facebook" on a link to facebook.com/someone names the network, not the person.
    if (looksLikeName(text) && !squash(want.split('/')[0]!).includes(squash(text))) return text;
  }
  return null;
}

/**
 * A declared author value (meta content, JSON-LD string) as names: URLs resolved through the page's
 * links, handles dropped, lower-case names accepted (the markup says it is a name). A value that is
 * no list of names ("Zone Justice - Example.ca") is kept as an organisation: the answer only when no
 * person is named anywhere.
 */
function declaredNames(raw: string, page: Page, organisation = false): Named[] {
  const v = collapse(decodeLeftoverEntities(raw));
  if (v === '') return [];
  if (/^(?:https?:\/\/|www\.|\/)|^[\w-]+(?:\.[\w-]+)+\//i.test(v)) {
    let url: string | null = null;
    try {
      url = new URL(/^(?:https?:|\/)/i.test(v) ? v : `https://${v}`, page.base ?? undefined).href;
    } catch {
      return [];
    }
    const name = nameForProfileUrl(url, page);
    return name ? [{ name, organisation }] : [];
  }
  if (v.startsWith('@')) return [];
  const names = namesInByline(v, true);
  if (names.length) return names.map((name) => ({ name, organisation }));
  return v.length <= 100 && !/[<>{}]/.test(v) ? [{ name: v, organisation: true }] : [];
}

/** Authors of the article's JSON-LD node (Person and Organization objects, strings, `@id` references). */
function fromJsonLd(page: Page): Named[] {
  const nodes = page.jsonLd();
  for (const key of ['author', 'creator']) {
    for (const n of nodesWith(nodes, key)) {
      const out: Named[] = [];
      const entries = deref(n[key], nodes);
      for (const entry of Array.isArray(entries) ? entries : [entries]) {
        if (typeof entry === 'string') {
          out.push(...declaredNames(entry, page));
        } else if (entry && typeof entry === 'object') {
          const obj = deref(entry, nodes) as JsonLdNode;
          const organisation = typesOf(obj).some((t) => /organization|corporation|brand/.test(t));
          const names = stringsOf(obj['name']).flatMap((s) => declaredNames(s, page, organisation));
          const url = stringsOf(obj['url'])[0];
          if (!names.length && url) names.push(...declaredNames(url, page, organisation));
          out.push(...names);
        }
      }
      if (out.length) return out;
    }
  }
  return [];
}

/** Page parts whose names belong to someone else: comments, teasers, author lists of other articles. */
const ELSEWHERE = /comment|related|recirc|promo|teaser|more-stories|trending|popular|widget|footer|sidebar|newsletter|respon/i;
/** What even explicit byline markup (hCard, microdata) is not trusted in: comments and other articles' teasers. */
const OTHER_ARTICLES = /comment|related|recirc|teaser|more-stories|trending|popular|respon/i;

/**
 * True inside comments, teasers and page-wide furniture. With `byTag`, also inside `<nav>`, and inside
 * `<footer>`/`<aside>` that are not part of an `<article>` (an article's own footer or meta column
 * holds its byline); explicit markup (microdata) is judged by class words alone.
 */
function inOtherContext(el: Element, byTag = true): boolean {
  const words = byTag ? ELSEWHERE : OTHER_ARTICLES;
  let furniture = false;
  for (let p = el.parent as Element | null; p && p.type === 'tag' && p.name !== 'body'; p = p.parent as Element | null) {
    if (p.name === 'article' || p.name === 'main') return false;
    if (byTag && (p.name === 'footer' || p.name === 'aside' || p.name === 'nav')) furniture = true;
    const ci = `${p.attribs['class'] ?? ''} ${p.attribs['id'] ?? ''}`;
    if (ci.length > 1 && words.test(ci)) return true;
  }
  return furniture;
}

/** Descendants of `el` (elements only), in document order, at most `limit`. */
function descendants(el: Element, limit = 60): Element[] {
  const out: Element[] = [];
  const stack = [...el.children].reverse();
  while (stack.length && out.length < limit) {
    const n = stack.pop()!;
    if (n.type !== 'tag') continue;
    const e = n as Element;
    out.push(e);
    for (let i = e.children.length - 1; i >= 0; i--) stack.push(e.children[i]!);
  }
  return out;
}

/** The name an `itemprop=author` element carries: its `itemprop=name` (content or text), else its own text. */
function microdataName(el: Element): string | null {
  if (el.name === 'meta') return attr(el, 'content');
  if (el.name === 'link') return null;
  const nameEl = descendants(el).find((d) => /(^|\s)name(\s|$)/.test(d.attribs['itemprop'] ?? ''));
  if (nameEl) return attr(nameEl, 'content') ?? textOf(nameEl, undefined, 120);
  return textOf(el, undefined, 200);
}

function fromMicrodata(page: Page): Named[] {
  const out: Named[] = [];
  for (const el of page.withItemprop()) {
    if (!/(^|\s)(author|creator)(\s|$)/i.test(el.attribs['itemprop'] ?? '') || inOtherContext(el, false)) continue;
    const raw = microdataName(el);
    if (!raw) continue;
    const organisation = /organization|corporation/i.test(el.attribs['itemtype'] ?? '');
    out.push(...declaredNames(raw, page, organisation));
  }
  return out;
}

/** hCard bylines (`.author .fn`, `.vcard .fn`, WordPress and Blogger themes) and `a[rel~=author]` links. */
function fromBylineMarkup(page: Page): Named[] {
  const out: Named[] = [];
  for (const el of page.elements()) {
    const cls = el.attribs['class'];
    const rel = el.attribs['rel'];
    let raw: string | null = null;
    if (cls !== undefined && /(^|\s)fn(\s|$)/.test(cls)) {
      const hcard = /(^|\s)(author|vcard)(\s|$)/.test(cls) ? el : (el.parent as Element | null);
      const hc = hcard && hcard.type === 'tag' ? hcard.attribs['class'] ?? '' : '';
      if (!/(^|\s|-)(author|vcard)(\s|$)/.test(hc) && hcard !== el) continue;
      raw = textOf(el, undefined, 120);
    } else if (el.name === 'a' && rel !== undefined && /(^|\s)author(\s|$)/i.test(rel)) {
      raw = textOf(el, undefined, 120);
    } else continue;
    if (inOtherContext(el, false)) continue;
    for (const name of namesInByline(raw)) out.push({ name, organisation: false });
    if (out.length) return out;
  }
  return out;
}

function fromMeta(page: Page): Named[] {
  const keys = ['article:author', 'author', 'parsely-author', 'sailthru.author', 'dc.creator', 'dcterms.creator', 'cxenseparse:author', 'byl', 'citation_author'];
  const groups: Named[][] = keys.map((key) => page.meta(key).flatMap((v) => declaredNames(v, page)));
  // Slack's unfurl labels (`twitter:label1` "Written by", `twitter:data1` the name), written by SEO plugins.
  for (let i = 1; i <= 4; i++) {
    const label = page.firstMeta(`twitter:label${i}`);
    const data = label && /written by|author/i.test(label) ? page.firstMeta(`twitter:data${i}`) : null;
    if (data) groups.push(declaredNames(data, page));
  }
  // One tag's names, the first that names a person ("author" often holds the publisher).
  const orgs = organisationNames(page);
  return groups.find((g) => g.some((n) => !n.organisation && !isOrganisationName(n.name, orgs))) ?? groups.find((g) => g.length) ?? [];
}

/** Class/id words of the element that holds a byline. */
const BYLINE_CLASS = /byline|author|writer|contributor|creator|posted-?by|attribution|reporter|journalist/i;
const NOT_BYLINE_CLASS = /bio|avatar|image|photo|img|follow|social|share|more-by|about|description|title-author|authors-list|comment/i;
/** Link paths of writers' profile pages. */
const PROFILE_PATH = /\/(?:authors?|by|profiles?|staff|writers?|contributors?|columnists?|journalists?|reporters?|users?|u|editors?|autor(?:en)?|auteurs?)\/[^/]|\/author-[^/]/i;
/** Account pages that sit under the same paths. */
const ACCOUNT_PATH = /\/(?:sign_?(?:in|out|up)|log_?(?:in|out)|register|settings|account|edit|password)\b/i;

/** A name (Latin script) matches the profile path it links to when one of its words is in it. */
function nameInPath(name: string, path: string): boolean {
  const p = path.toLowerCase();
  const words = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().split(/[\s.'’-]+/).filter((w) => w.length >= 3);
  return words.length === 0 || words.some((w) => p.includes(w));
}

/**
 * Elements around the headline, in document order: the byline sits just before or after the `<h1>`,
 * or at the top of the article body. A window of elements keeps this cheap on a 100k-element page.
 */
function headerWindow(page: Page): Element[] {
  const all = page.elements();
  const h1s = page.byTag('h1');
  const main = page.main();
  const anchors: Element[] = [];
  // Headlines inside an article or main element first: a logo is often an <h1> too.
  const inArticle = (h: Element): boolean => {
    for (let p = h.parent as Element | null; p && p.type === 'tag'; p = p.parent as Element | null) if (p.name === 'article' || p.name === 'main') return true;
    return false;
  };
  anchors.push(...[...h1s.filter(inArticle), ...h1s.filter((h) => !inArticle(h))].slice(0, 3));
  if (main && main.roots[0]) anchors.push(main.roots[0]);
  const out: Element[] = [];
  const seen = new Set<number>();
  for (const anchor of anchors) {
    const at = all.indexOf(anchor);
    if (at < 0) continue;
    for (let i = Math.max(0, at - 40); i < Math.min(all.length, at + 250); i++) {
      if (seen.has(i)) continue;
      seen.add(i);
      out.push(all[i]!);
    }
  }
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A writer's label and the name after it in CJK datelines ("文：山田花子", "著者：後藤大地", "文● 岡本"). */
const CJK_LABEL = /(?:^|[\s　])(?:文|著者|記者|作者|撰文|执笔|執筆|筆者|取材・文)\s*[:：●]\s*([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー・]{2,12})/u;

/** "By", "By:", "Written by …" at the start of a byline. */
const BY_LABEL = /^(?:(?:written|posted|reported)\s+)?by(?:[\s:]|$)/i;

/** Visible bylines near the headline: "By …" text, byline/author-classed elements, links to writers' profile pages. */
function fromVisibleByline(page: Page): Named[] {
  const window = headerWindow(page);
  for (const el of window) {
    // Cheap tests first (a window holds hundreds of elements): the element's class, its own text,
    // or the path its link points to must say "byline" before any text is gathered.
    const ci = `${el.attribs['class'] ?? ''} ${el.attribs['id'] ?? ''}`;
    const classed = ci.length > 1 && BYLINE_CLASS.test(ci) && !NOT_BYLINE_CLASS.test(ci);
    const direct = ownText(el);
    const byLabel = BY_LABEL.test(direct);
    const cjkLabel = CJK_LABEL.test(direct);
    const path = el.name === 'a' ? pathOf(el.attribs['href'] ?? '') : '';
    const profile = path !== '' && PROFILE_PATH.test(path) && !ACCOUNT_PATH.test(path);
    if (!classed && !byLabel && !cjkLabel && !profile) continue;
    if (inOtherContext(el)) continue;
    const text = textOf(el, undefined, 240);
    if (text === '' || text.length > 200) continue;
    if (classed || BY_LABEL.test(text)) {
      const bare = /^by:?$/i.test(text);
      let names = bare ? [] : namesInByline(text);
      if (bare) {
        // "<span>By</span> <a>Name</a> and <a>Name</a>": the names follow the label, in its parent
        // (read from the label on, with a space after it: inline elements' texts join unspaced).
        const parent = el.parent as Element | null;
        const around = parent && parent.type === 'tag' ? textOf(parent, undefined, 300) : '';
        const after = around.startsWith(text) ? `${text} ${around.slice(text.length)}` : around;
        if (after.length <= 250) names = namesInByline(after);
        if (!names.length) {
          let next = el.next;
          while (next && next.type === 'text' && collapse((next as unknown as { data: string }).data) === '') next = next.next;
          if (next) names = namesInByline(next.type === 'text' ? (next as unknown as { data: string }).data : textOf(next as Element, undefined, 200));
        }
      }
      if (names.length) return names.map((name) => ({ name, organisation: false }));
    }
    // "文：山田花子", "著者：後藤大地" inside a short dateline.
    const label = text.length <= 120 ? CJK_LABEL.exec(text) : null;
    if (label && looksLikeName(label[1]!)) return [{ name: label[1]!, organisation: false }];
    if (profile && looksLikeName(text) && nameInPath(text, decodeURIComponentSafe(path))) return [{ name: givenFirst(text), organisation: false }];
  }
  return [];
}

/** The text directly inside an element (not in its child elements), trimmed. */
function ownText(el: Element): string {
  let out = '';
  for (const c of el.children) if (c.type === 'text') out += (c as unknown as { data: string }).data;
  return out.trim();
}

/** The path of a link (absolute, protocol-relative or relative), without query or fragment. */
function pathOf(href: string): string {
  return href.trim().replace(/^(?:[a-z][a-z0-9+.-]*:)?\/\/[^/]*/i, '').split(/[?#]/)[0]!;
}

/**
 * The article's authors, people first: the first source (JSON-LD, microdata, hCard/rel=author,
 * meta tags, a visible byline) that names a person wins; an organisation (a publisher name in
 * `meta[name=author]`, "Staff") is the answer only when no source names a person. Duplicates and
 * more than {@link MAX_AUTHORS} names are dropped.
 */
export function findAuthors(page: Page): string[] {
  const orgs = organisationNames(page);
  let fallback: string[] | null = null;
  for (const source of [fromJsonLd, fromMicrodata, fromBylineMarkup, fromMeta, fromVisibleByline]) {
    const found = source(page).map((n) => ({ ...n, organisation: n.organisation || isOrganisationName(n.name, orgs) }));
    if (!found.length) continue;
    const people = unique(found.filter((n) => !n.organisation && !CREDIT.test(n.name)).map((n) => n.name));
    if (people.length) return people.slice(0, MAX_AUTHORS);
    fallback ??= unique(found.map((n) => n.name)).slice(0, MAX_AUTHORS);
  }
  return fallback ?? [];
}

function unique(names: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const n of names) {
    const key = squash(n);
    if (key === '' || seen.has(key)) continue;
    seen.add(key);
    out.push(n);
  }
  return out;
}
