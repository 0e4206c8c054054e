import { clipText, firstSentences, readBody } from './body';
import { bannerImageRules } from './image';
import { findAuthors } from './authors';
import { canonicalUrlRules, descriptionRules, languageRules, siteNameRules } from './metadata';
import { PageTooComplex } from '../isolation/parseBudget';
import { createPage } from './page';
import type { Page } from './page';
import { modifiedRules, publishedRules } from './published';
import { firstGood, guarded } from './rules';
import { titleRules } from './title';
import type { Article } from './types';

export type { Article } from './types';
export { clipText } from './body';

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
  authors: [],
  language: null,
  description: null,
};

/**
 * Bounds of the record, so one page can never make an article Firestore refuses (1 MiB per
 * document): a page of a few MB could declare a description of millions of characters, an image
 * URL as long, or thousands of headings. Text is cut at a word and marked with "…"; a URL too long
 * to be a link anyone uses (the API's own limit for submitted URLs) is dropped, since a cut URL is a
 * wrong one. At these bounds a record stays under ~40 KB.
 */
export const articleBounds = {
  outlineEntries: 100,
  titleChars: 300,
  summaryChars: 1000,
  descriptionChars: 1000,
  nameChars: 200,
  authors: 10,
  publishedAtRawChars: 100,
  languageChars: 35,
  urlChars: 2048,
} as const;

/** Null for a value longer than `max`: a cut URL or language tag would be a wrong one. */
function unlessLonger(value: string | null, max: number): string | null {
  return value !== null && value.length > max ? null : value;
}

/** The record within {@link articleBounds}. */
function bounded(article: Article): Article {
  const b = articleBounds;
  return {
    ...article,
    title: clipText(article.title, b.titleChars),
    publishedAtRaw: clipText(article.publishedAtRaw, b.publishedAtRawChars),
    outline: article.outline.slice(0, b.outlineEntries),
    summary: clipText(article.summary, b.summaryChars),
    bannerImage: unlessLonger(article.bannerImage, b.urlChars),
    canonicalUrl: unlessLonger(article.canonicalUrl, b.urlChars),
    siteName: clipText(article.siteName, b.nameChars),
    author: clipText(article.author, b.nameChars),
    authors: article.authors.slice(0, b.authors).map((name) => clipText(name, b.nameChars)!),
    language: unlessLonger(article.language, b.languageChars),
    description: clipText(article.description, b.descriptionChars),
  };
}

/**
 * Extracts the article record from a page's HTML. `pageUrl` is the URL the HTML was fetched from
 * (after redirects); relative URLs resolve against it (or the page's `<base href>`).
 *
 * Pure and synchronous, and throws only PageTooComplex (a page past the parse budget, which no
 * field could be read from in bounded time): each field is an ordered list of rules (see the field
 * modules), and a rule that fails makes only its own field null.
 */
export function extractArticle(html: string, pageUrl: string, options: ExtractOptions = {}): Article {
  const now = options.now ?? Date.now();
  let page: Page;
  try {
    page = createPage(typeof html === 'string' ? html : '', pageUrl, now);
  } catch (error) {
    if (error instanceof PageTooComplex) throw error;
    return { ...EMPTY, outline: [], authors: [] };
  }
  const value = <T>(hit: { value: T } | null): T | null => (hit ? hit.value : null);

  const title = value(firstGood(titleRules, page));
  const published = value(firstGood(publishedRules, page));
  const modified = value(firstGood(modifiedRules, page));
  const description = value(firstGood(descriptionRules, page));
  const main = guarded(() => page.main(), null);
  const authors = guarded(() => findAuthors(page), []);
  const body = guarded(() => readBody(main, title), { outline: [], wordCount: 0, readingTimeMinutes: 0, opening: '' });

  return bounded({
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
    author: authors[0] ?? null,
    authors,
    language: value(firstGood(languageRules, page)),
    description,
  });
}
