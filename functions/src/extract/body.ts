import { collapse, elementsIn, textOf } from './dom';
import type { Element } from './dom';
import type { MainContent } from './content';
import { readingTimeMinutes, tallyWords } from './readingTime';
import { squash, stripPermalink } from './title';

/**
 * Section headings are h2–h4; an h1 inside the article body counts too when it is not the headline,
 * because some publishers (Medium, for one) mark every section heading up as h1.
 */
const HEADING = /^h[1-4]$/;

/** Section headings of the main content in document order, without the headline itself or repeats. */
export function outlineOf(main: MainContent | null, title: string | null): string[] {
  if (!main) return [];
  const squashedTitle = title ? squash(title) : null;
  const out: string[] = [];
  const seen = new Set<string>();
  for (const root of main.roots) {
    for (const el of [root, ...elementsIn(root, (e) => !main.skip(e) && !HEADING.test(e.name))]) {
      if (!HEADING.test(el.name) || main.skip(el)) continue;
      const text = stripPermalink(textOf(el));
      const key = squash(text);
      if (key === '' || text.length > 200 || seen.has(key)) continue;
      // The headline repeated at the top of the body is not a section.
      if (squashedTitle && (key === squashedTitle || (el.name === 'h1' && (squashedTitle.includes(key) || key.includes(squashedTitle))))) continue;
      seen.add(key);
      out.push(text);
    }
  }
  return out;
}

/** Visible text of the main content, boilerplate inside it left out. */
export function mainText(main: MainContent | null): string {
  if (!main) return '';
  return main.roots.map((r: Element) => textOf(r, main.skip)).join(' ').trim();
}

export function wordStats(text: string): { wordCount: number; readingTimeMinutes: number } {
  const tally = tallyWords(text);
  return { wordCount: tally.words + tally.cjkChars, readingTimeMinutes: readingTimeMinutes(tally) };
}

/** The first sentences of the text, up to about `max` characters, cut at a sentence end when possible. */
export function firstSentences(text: string, max = 300): string | null {
  const t = collapse(text);
  if (t === '') return null;
  if (t.length <= max) return t;
  const window = t.slice(0, max);
  const ends = [...window.matchAll(/[.!?。！？](?=\s|$)/g)];
  const last = ends.length ? ends[ends.length - 1]! : null;
  if (last && (last.index ?? 0) > max / 3) return window.slice(0, (last.index ?? 0) + 1);
  const space = window.lastIndexOf(' ');
  return (space > max / 2 ? window.slice(0, space) : window) + '…';
}
