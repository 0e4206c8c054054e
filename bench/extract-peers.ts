/**
 * Other extractors behind the evaluation scorers' adapter shape, for `npm run bench -- extract`: the
 * scorers import this module and call `extract(html, url)`; `EXTRACT_PEER` names the extractor.
 * Each peer is a devDependency loaded lazily, run in-process on the HTML given (none of them fetches
 * here), and mapped to `{ title, publishedAt, bannerImage, author, wordCount, outline }`.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import { extractArticle } from '../functions/src/extract';
import { tallyWords } from '../functions/src/extract/readingTime';

type Result = Record<string, unknown>;
type Adapter = (html: string, url: string) => Promise<Result>;

/** Words of a text the way extractArticle counts them (CJK characters one each). */
function words(text: string | null | undefined): number | null {
  if (!text) return null;
  const t = tallyWords(text);
  return t.words + t.cjkChars;
}

function firstString(...values: unknown[]): string | null {
  for (const v of values) {
    if (typeof v === 'string' && v.trim() !== '') return v;
    if (Array.isArray(v)) {
      const s = firstString(...v);
      if (s) return s;
    }
  }
  return null;
}

function metascraper(): Adapter {
  // Its re2 native addon is not built here; metascraper falls back to JavaScript RegExp.
  const create = require('metascraper') as (rules: unknown[]) => (input: { html: string; url: string }) => Promise<Result>;
  const scrape = create(['metascraper-author', 'metascraper-date', 'metascraper-image', 'metascraper-title', 'metascraper-url'].map((name) => (require(name) as () => unknown)()));
  return async (html, url) => {
    const r = await scrape({ html, url });
    return { title: r['title'], publishedAt: r['date'], bannerImage: r['image'], author: r['author'] };
  };
}

function openGraphScraper(): Adapter {
  const ogs = require('open-graph-scraper') as (o: { html: string }) => Promise<{ result: Record<string, unknown> }>;
  return async (html) => {
    const { result: r } = await ogs({ html });
    const image = (r['ogImage'] as { url?: string }[] | undefined)?.[0]?.url ?? (r['twitterImage'] as { url?: string }[] | undefined)?.[0]?.url ?? null;
    const ld = (r['jsonLD'] as Record<string, unknown>[] | undefined) ?? [];
    const ldAuthor = ld.map((n) => n['author']).flat().map((a) => (a && typeof a === 'object' ? (a as Record<string, unknown>)['name'] : a));
    return {
      title: firstString(r['ogTitle'], r['twitterTitle'], r['dcTitle']),
      publishedAt: firstString(r['articlePublishedTime'], r['ogArticlePublishedTime'], r['ogDate'], ld.map((n) => n['datePublished'])),
      bannerImage: image,
      author: firstString(r['author'], r['articleAuthor'], r['ogArticleAuthor'], ldAuthor),
    };
  };
}

function readability(): Adapter {
  const { Readability } = require('@mozilla/readability') as { Readability: new (doc: unknown) => { parse(): Record<string, unknown> | null } };
  const { parseHTML } = require('linkedom') as { parseHTML: (html: string) => { document: unknown } };
  return async (html) => {
    const r = new Readability(parseHTML(html).document).parse();
    return { title: r?.['title'] ?? null, publishedAt: r?.['publishedTime'] ?? null, author: r?.['byline'] ?? null, wordCount: words(r?.['textContent'] as string | undefined) };
  };
}

function articleExtractor(): Adapter {
  const mod = require('@extractus/article-extractor') as { extractFromHtml: (html: string, url: string) => Promise<Record<string, unknown> | null> };
  const { parseHTML } = require('linkedom') as { parseHTML: (html: string) => { document: { body?: { textContent?: string } } } };
  return async (html, url) => {
    const r = await mod.extractFromHtml(html, url);
    const content = typeof r?.['content'] === 'string' ? (r['content'] as string) : '';
    return {
      title: r?.['title'] ?? null,
      publishedAt: r?.['published'] || null,
      bannerImage: r?.['image'] || null,
      author: r?.['author'] || null,
      wordCount: content ? words(parseHTML(`<html><body>${content}</body></html>`).document.body?.textContent) : null,
    };
  };
}

function ours(): Adapter {
  return async (html, url) => {
    const a = extractArticle(html, url);
    return { ...a, author: a.authors, outline: a.outline.length ? a.outline : a.summary ? [a.summary] : [] };
  };
}

/** The extractors compared, by the name `EXTRACT_PEER` takes, with the label the tables show. */
export const PEERS: Record<string, { label: string; make: () => Adapter }> = {
  extractArticle: { label: 'extractArticle (this project)', make: ours },
  metascraper: { label: 'metascraper 5.49 (title, date, image, author)', make: metascraper },
  'open-graph-scraper': { label: 'open-graph-scraper 6.12 (meta, JSON-LD)', make: openGraphScraper },
  readability: { label: 'Readability 0.6 + linkedom 0.18', make: readability },
  'article-extractor': { label: '@extractus/article-extractor 9.0', make: articleExtractor },
};

let adapter: Adapter | undefined;

export async function extract(html: string, url: string): Promise<Result> {
  adapter ??= (PEERS[process.env['EXTRACT_PEER'] ?? 'extractArticle'] ?? PEERS['extractArticle']!).make();
  return adapter(html, url);
}
