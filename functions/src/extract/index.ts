import { firstSentences, readBody } from './body';
import { bannerImageRules } from './image';
import { authorRules, canonicalUrlRules, descriptionRules, languageRules, siteNameRules } from './metadata';
import { createPage } from './page';
import type { Page } from './page';
import { modifiedRules, publishedRules } from './published';
import { firstGood, guarded } from './rules';
import { titleRules } from './title';
import type { Article } from './types';

export type { Article } from './types';

/** Options of {@link extractArticle}. */
export interface ExtractOptions {
  /** "Now" in milliseconds since the epoch, for rejecting dates in the future. Default: `Date.now()`. */
  now?: number;
}

const EMPTY: Article = {
  title: null,
  publishedAt: null,
  publishedAtRaw: null,
  modifiedAt: null,
  outline: [],
  summary: null,
  wordCount: 0,
  readingTimeMinutes: 0,
  bannerImage: null,
  canonicalUrl: null,
  siteName: null,
  author: null,
  language: null,
  description: null,
};

/**
 * Extracts the article record from a page's HTML. `pageUrl` is the URL the HTML was fetched from
 * (after redirects); relative URLs resolve against it (or the page's `<base href>`).
 *
 * Pure and synchronous, and never throws: each field is an ordered list of rules (see the field
 * modules), and a rule that fails makes only its own field null.
 */
export function extractArticle(html: string, pageUrl: string, options: ExtractOptions = {}): Article {
  const now = options.now ?? Date.now();
  let page: Page;
  try {
    page = createPage(typeof html === 'string' ? html : '', pageUrl, now);
  } catch {
    return { ...EMPTY, outline: [] };
  }
  const value = <T>(hit: { value: T } | null): T | null => (hit ? hit.value : null);

  const title = value(firstGood(titleRules, page));
  const published = value(firstGood(publishedRules, page));
  const modified = value(firstGood(modifiedRules, page));
  const description = value(firstGood(descriptionRules, page));
  const main = guarded(() => page.main(), null);
  const body = guarded(() => readBody(main, title), { outline: [], wordCount: 0, readingTimeMinutes: 0, opening: '' });

  return {
    title,
    publishedAt: published ? published.date.iso : null,
    publishedAtRaw: published ? published.raw : null,
    modifiedAt: modified ? modified.date.iso : null,
    outline: body.outline,
    summary: description ?? guarded(() => firstSentences(body.opening), null),
    wordCount: body.wordCount,
    readingTimeMinutes: body.readingTimeMinutes,
    bannerImage: value(firstGood(bannerImageRules, page)),
    canonicalUrl: value(firstGood(canonicalUrlRules, page)),
    siteName: value(firstGood(siteNameRules, page)),
    author: value(firstGood(authorRules, page)),
    language: value(firstGood(languageRules, page)),
    description,
  };
}
