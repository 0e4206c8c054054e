import { collapse, textOf, walkTextWith } from './dom';
import type { Element } from './dom';
import type { MainContent } from './content';
import { WordCounter, readingTimeMinutes } from './readingTime';
import { squash, stripPermalink } from './title';

/**
 * Section headings are h2–h4; an h1 inside the article body counts too when it is not the headline,
 * because some publishers (Medium, for one) mark every section heading up as h1.
 */
const HEADING = new Set(['h1', 'h2', 'h3', 'h4']);

/** What the article body says about itself; see {@link readBody}. */
export interface BodyReading {
  /** Section headings in document order, without the headline itself or repeats. */
  outline: string[];
  wordCount: number;
  readingTimeMinutes: number;
  /** The first prose paragraphs (byline, dates and captions left out), about `openingChars` long. */
  opening: string;
}

/** Headings of page furniture that sits inside article bodies: reading lists, comments, sharing. */
const BOILERPLATE_HEADING = /^(?:more (?:to read|from\b.*|stories|on\b.*|like this)|related(?: \w+)?|(?:\d+ )?comments?|leave a (?:comment|reply)|share(?: this(?: \w+)?)?|read (?:more|next)|recommended(?: \w+)?|you (?:may|might) also like|advertisement|trending(?: now)?|most (?:read|popular)|popular(?: now)?|sign up.*|subscribe.*|newsletter|follow us.*|keep reading|further reading|up next|what to read next)[.:!]?$/i;

/** Paragraph classes that hold a byline or dates rather than the article's opening. */
const NOT_OPENING = /byline|dateline|date|meta|author|caption|credit|kicker|eyebrow/i;

/** Class words of what sits in an article body without being its text: pictures, bylines, share bars. */
const NOT_PROSE_CLASS = /(?:^|[\s_-])(?:caption|credit|gallery|slideshow|carousel|lightbox|byline|dateline|timestamp|author|share|sharing|social|related|newsletter|promo|advert|ad-slot|subscribe|tags|breadcrumb)(?:$|[\s_-])/i;

/**
 * Elements of the main content whose words are not the article's: figures and their captions, and
 * short blocks whose class says caption, credit, gallery, byline, timestamp, sharing and the like (a
 * long one is kept: some themes put the whole body in a "post-author-…" wrapper).
 */
function notProse(el: Element): boolean {
  if (el.name === 'figure' || el.name === 'figcaption' || el.name === 'picture') return true;
  // Classes only: ids are often made from a section's heading ("sharing-with-a-team").
  const cls = el.attribs['class'];
  if (cls === undefined || cls.length < 3 || !NOT_PROSE_CLASS.test(cls)) return false;
  return textOf(el, undefined, 1500).length < 1500;
}

/**
 * Reads the main content in one walk (a 5 MB page has no time for three): counts its words, collects
 * its section headings and its opening paragraphs.
 */
export function readBody(main: MainContent | null, title: string | null, openingChars = 300): BodyReading {
  const empty: BodyReading = { outline: [], wordCount: 0, readingTimeMinutes: 0, opening: '' };
  if (!main) return empty;
  const squashedTitle = title ? squash(title) : null;
  const outline: string[] = [];
  const seen = new Set<string>();
  const opening: string[] = [];
  let openingLength = 0;
  const counter = new WordCounter();

  const enter = (el: Element): boolean => {
    if (main.skip(el) || notProse(el)) return false;
    if (HEADING.has(el.name)) {
      const raw = textOf(el);
      const text = stripPermalink(raw);
      const key = squash(text);
      // The headline repeated at the top of the body is neither a section nor words of the body.
      const isHeadline = squashedTitle !== null && (key === squashedTitle || (el.name === 'h1' && (squashedTitle.includes(key) || key.includes(squashedTitle))));
      if (!isHeadline) {
        counter.feed(raw);
        counter.boundary();
      }
      if (isHeadline || key === '' || text.length > 200 || seen.has(key) || !/\p{L}/u.test(text) || BOILERPLATE_HEADING.test(text)) return false;
      seen.add(key);
      outline.push(text);
      return false;
    }
    if (el.name === 'p' && openingLength < openingChars && !NOT_OPENING.test(`${el.attribs['class'] ?? ''} ${el.attribs['id'] ?? ''}`)) {
      const text = textOf(el, main.skip, openingChars * 2);
      if (text.length >= 40) {
        opening.push(text);
        openingLength += text.length;
      }
    }
    return true;
  };
  for (const root of main.roots) {
    walkTextWith(root, (t) => counter.feed(t), () => counter.boundary(), enter);
    counter.boundary();
  }
  return {
    outline,
    wordCount: counter.words + counter.cjkChars,
    readingTimeMinutes: readingTimeMinutes(counter),
    opening: opening.length ? opening.join(' ') : mainText(main),
  };
}

/** The opening of the main content's visible text, boilerplate inside it left out. */
export function mainText(main: MainContent | null, limit = 2000): string {
  if (!main) return '';
  return main.roots.map((r: Element) => textOf(r, main.skip, limit)).join(' ').trim();
}

/**
 * The first `keep` characters of `text` in whole code points (a cut inside a surrogate pair leaves a
 * string Firestore refuses), cut back to the last space if it lies beyond `minCut`, marked with "…".
 */
function cutWithEllipsis(text: string, keep: number, minCut: number): string {
  let window = '';
  for (const char of text) {
    if (window.length + char.length > keep) break;
    window += char;
  }
  const space = window.lastIndexOf(' ');
  return `${(space > minCut ? window.slice(0, space) : window).trimEnd()}…`;
}

/** `text` in at most `max` characters, cut at a word boundary when one is near, with "…" marking the cut. */
export function clipText(text: string | null, max: number): string | null {
  if (text === null || text.length <= max) return text;
  return cutWithEllipsis(text, max - 1, max / 2);
}

/** The first sentences of the text, up to about `max` characters, cut at a sentence end when possible. */
export function firstSentences(text: string, max = 300): string | null {
  const t = collapse(text);
  if (t === '') return null;
  if (t.length <= max) return t;
  const window = t.slice(0, max);
  const ends = [...window.matchAll(/[.!?](?=\s|$)|[。！？]/g)];
  const last = ends.length ? ends[ends.length - 1]! : null;
  if (last && (last.index ?? 0) > max / 3) return window.slice(0, (last.index ?? 0) + 1);
  return cutWithEllipsis(t, max, max / 2);
}

