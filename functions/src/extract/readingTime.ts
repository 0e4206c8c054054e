/**
 * Word counting and reading time.
 *
 * Rates (documented, not tuned):
 * - Space-separated scripts: 230 words per minute. Brysbaert (2019, "How many words do we read per
 *   minute? A review and meta-analysis of reading rate", J. Memory and Language 109) puts silent reading
 *   of English non-fiction at about 238 wpm (fiction ~260); 230 is the conservative round figure the
 *   project's evaluation uses too.
 * - Chinese, Japanese and Korean have no spaces between words, so each CJK character counts as one
 *   "word" and is read at 500 characters per minute — the figure Medium documents for CJK reading time;
 *   measured silent rates for Chinese are in the same range (roughly 400–600 characters per minute).
 *
 * A word is a whitespace-separated token that contains a letter or digit (so "—" and "•" don't count).
 */
export const WORDS_PER_MINUTE = 230;
export const CJK_CHARS_PER_MINUTE = 500;

/** Han, Hiragana, Katakana, Hangul and CJK punctuation-free ranges. */
const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\uff66-\uff9d]/g;
const HAS_WORD_CHAR = /[\p{L}\p{N}]/u;

/** Counts of space-separated words and of CJK characters in a text. */
export interface WordTally {
  words: number;
  cjkChars: number;
}

export function tallyWords(text: string): WordTally {
  const cjkChars = (text.match(CJK) ?? []).length;
  const rest = cjkChars ? text.replace(CJK, ' ') : text;
  let words = 0;
  for (const token of rest.split(/\s+/)) if (token && HAS_WORD_CHAR.test(token)) words++;
  return { words, cjkChars };
}

/** Whole minutes, rounded, at least 1 when there is any text at all. */
export function readingTimeMinutes(tally: WordTally): number {
  const minutes = tally.words / WORDS_PER_MINUTE + tally.cjkChars / CJK_CHARS_PER_MINUTE;
  if (tally.words + tally.cjkChars === 0) return 0;
  return Math.max(1, Math.round(minutes));
}
