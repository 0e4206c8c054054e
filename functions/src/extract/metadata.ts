import { attr, collapse } from './dom';
import { deref, nodesWith, stringsOf } from './jsonld';
import type { Page } from './page';
import type { Rule } from './rules';
import { absoluteHttpUrl } from './urls';

const metaRule = (name: string, ...keys: string[]): Rule<Page, string> => ({ name, run: (page) => page.firstMeta(...keys) });

function jsonLdString(key: string, keys?: string[]): Rule<Page, string> {
  return {
    name: `jsonld.${key}`,
    run: (page) => {
      for (const n of nodesWith(page.jsonLd(), key)) {
        const v = stringsOf(n[key], keys).map(collapse).find((s) => s !== '');
        if (v) return v;
      }
      return null;
    },
  };
}

/** `<link rel=…>` hrefs resolved to absolute http(s) URLs. */
export function linkHref(page: Page, rel: string): string | null {
  for (const el of page.byTag('link')) {
    const rels = (el.attribs['rel'] ?? '').toLowerCase().split(/\s+/);
    if (!rels.includes(rel)) continue;
    const url = absoluteHttpUrl(attr(el, 'href'), page.base);
    if (url) return url;
  }
  return null;
}

export const canonicalUrlRules: readonly Rule<Page, string>[] = [
  { name: 'link.canonical', run: (page) => linkHref(page, 'canonical') },
  { name: 'og:url', run: (page) => absoluteHttpUrl(page.firstMeta('og:url'), page.base) },
];

export const siteNameRules: readonly Rule<Page, string>[] = [
  metaRule('og:site_name', 'og:site_name'),
  {
    name: 'jsonld.publisher',
    run: (page) => {
      for (const n of nodesWith(page.jsonLd(), 'publisher')) {
        const v = stringsOf(deref(n['publisher'], page.jsonLd()), ['name']).map(collapse).find((s) => s !== '');
        if (v) return v;
      }
      return null;
    },
  },
  metaRule('application-name', 'application-name', 'apple-mobile-web-app-title'),
];

/** Normalises "en_US"/"EN-us" to a BCP 47 tag ("en-US"). */
export function normaliseLanguage(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const first = raw.split(/[,;]/)[0]!.trim().replace(/_/g, '-');
  const m = /^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|\d{3}))?\b/i.exec(first);
  if (!m) return null;
  let tag = m[1]!.toLowerCase();
  if (m[2]) tag += '-' + m[2][0]!.toUpperCase() + m[2].slice(1).toLowerCase();
  if (m[3]) tag += '-' + m[3].toUpperCase();
  return tag;
}

export const languageRules: readonly Rule<Page, string>[] = [
  {
    name: 'html.lang',
    run: (page) => {
      const html = page.byTag('html')[0];
      return html ? normaliseLanguage(attr(html, 'lang') ?? attr(html, 'xml:lang')) : null;
    },
  },
  { name: 'content-language', run: (page) => normaliseLanguage(page.firstMeta('content-language', 'language', 'dc.language', 'dcterms.language')) },
  { name: 'og:locale', run: (page) => normaliseLanguage(page.firstMeta('og:locale')) },
  { name: 'jsonld.inLanguage', run: (page) => normaliseLanguage(jsonLdString('inLanguage').run(page)) },
];

export const descriptionRules: readonly Rule<Page, string>[] = [
  metaRule('meta.description', 'description'),
  metaRule('og:description', 'og:description'),
  metaRule('twitter:description', 'twitter:description', 'dc.description', 'dcterms.description'),
  jsonLdString('description'),
];
