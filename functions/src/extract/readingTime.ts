/**
 * Word counting and reading time.
 *
 * Rates (documented, not tuned):
 * - Space-separated scripts: 238 words per minute, the figure of Brysbaert (2019, "How many words do we
 *   read per minute? A review and meta-analysis of reading rate", J. Memory and Language 109) for silent
 *   reading of English non-fiction (fiction ~260).
 * - Chinese, Japanese and Korean have no spaces between words, so each CJK character counts as one
 *   "word" and is read at 500 characters per minute — the figure Medium documents for CJK reading time;
 *   measured silent rates for Chinese are in the same range (roughly 400–600 characters per minute).
 *
 * A word is a whitespace-separated token that contains a letter or digit (so "—" and "•" don't count).
 */
export const WORDS_PER_MINUTE = 238;
export const CJK_CHARS_PER_MINUTE = 500;

/** Han, Hiragana, Katakana, Hangul (syllables and jamo) and half-width Katakana. */
function isCjk(c: number): boolean {
  return (
    (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0xac00 && c <= 0xd7af) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x1100 && c <= 0x11ff) ||
    (c >= 0x3130 && c <= 0x318f) || (c >= 0xff66 && c <= 0xff9d)
  );
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200b) || c === 0x2028 ||
    c === 0x2029 || c === 0x202f || c === 0x205f || c === 0xfeff || c === 0x1680;
}

const WORD_CHAR = /[\p{L}\p{N}]/u;

/** Counts of space-separated words and of CJK characters in a text. */
export interface WordTally {
  words: number;
  cjkChars: number;
}

/**
 * Counts words over text that arrives in pieces (text nodes), without building the whole string:
 * a word may continue across pieces ("foo<b>bar</b>" is one word) until whitespace or `boundary()`.
 */
export class WordCounter implements WordTally {
  words = 0;
  cjkChars = 0;
  private inToken = false;
  private tokenHasWordChar = false;

  feed(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // ASCII first: most text is, and it needs two comparisons instead of the full tables.
      if (c < 0x80) {
        if (c === 32 || (c >= 9 && c <= 13)) {
          this.boundary();
        } else if (c > 32) {
          this.inToken = true;
          if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) this.tokenHasWordChar = true;
        }
      } else if (isSpace(c)) {
        this.boundary();
      } else if (isCjk(c)) {
        this.boundary();
        this.cjkChars++;
      } else {
        this.inToken = true;
        const cp = text.codePointAt(i)!;
        if (!this.tokenHasWordChar && WORD_CHAR.test(String.fromCodePoint(cp))) this.tokenHasWordChar = true;
        if (cp > 0xffff) i++;
      }
    }
  }

  boundary(): void {
    if (this.inToken && this.tokenHasWordChar) this.words++;
    this.inToken = false;
    this.tokenHasWordChar = false;
  }
}

export function tallyWords(text: string): WordTally {
  const counter = new WordCounter();
  counter.feed(text);
  counter.boundary();
  return { words: counter.words, cjkChars: counter.cjkChars };
}

/** Whole minutes, rounded, at least 1 when there is any text at all. */
export function readingTimeMinutes(tally: WordTally): number {
  const minutes = tally.words / WORDS_PER_MINUTE + tally.cjkChars / CJK_CHARS_PER_MINUTE;
  if (tally.words + tally.cjkChars === 0) return 0;
  return Math.max(1, Math.round(minutes));
}
