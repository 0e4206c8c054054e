/**
 * Date parsing and normalisation.
 *
 * Output format: ISO 8601 with the offset the page gave, e.g. "2015-03-10T08:05:41-07:00" — the calendar
 * day stays the publisher's day and the instant stays exact. A value without a zone is taken as UTC and
 * written with "Z" (the extractor is pure: it must not depend on the machine's time zone). A date-only
 * value becomes midnight UTC of that day.
 */

/** A parsed date: the instant and its normalised ISO 8601 text. */
export interface ParsedDate {
  ms: number;
  iso: string;
}

/** Earliest plausible publication date of a web page (the web went public in 1991). */
export const EARLIEST_PLAUSIBLE_MS = Date.UTC(1991, 0, 1);
/**
 * Slack for "in the future": a date-only value at UTC midnight, or a page stamped in a zone ahead of the
 * server, can legitimately be up to a day ahead of `now`.
 */
export const FUTURE_SLACK_MS = 36 * 60 * 60 * 1000;

const MONTHS: Record<string, number> = {};
[
  ['january', 'jan', 'janvier', 'janv', 'enero', 'ene', 'januar', 'jän', 'gennaio', 'gen', 'janeiro', 'januari'],
  ['february', 'feb', 'février', 'fevrier', 'févr', 'fév', 'febrero', 'februar', 'febbraio', 'fevereiro', 'fev', 'februari'],
  ['march', 'mar', 'mars', 'marzo', 'märz', 'mär', 'marz', 'março', 'maret', 'maart'],
  ['april', 'apr', 'avril', 'avr', 'abril', 'abr', 'aprile'],
  ['may', 'mai', 'mayo', 'maggio', 'maio', 'mei', 'mag'],
  ['june', 'jun', 'juin', 'junio', 'juni', 'giugno', 'giu', 'junho'],
  ['july', 'jul', 'juillet', 'juil', 'julio', 'juli', 'luglio', 'lug', 'julho'],
  ['august', 'aug', 'août', 'aout', 'agosto', 'ago', 'agustus', 'augustus'],
  ['september', 'sep', 'sept', 'septembre', 'septiembre', 'set', 'settembre', 'setembro'],
  ['october', 'oct', 'octobre', 'octubre', 'oktober', 'okt', 'ottobre', 'ott', 'outubro', 'out'],
  ['november', 'nov', 'novembre', 'noviembre', 'novembro'],
  ['december', 'dec', 'décembre', 'decembre', 'déc', 'diciembre', 'dic', 'dezember', 'dez', 'dicembre', 'dezembro', 'desember'],
].forEach((names, i) => names.forEach((n) => (MONTHS[n] = i + 1)));

/**
 * A word that may be a month name. Patterns match any word here and the code checks it against
 * MONTHS: an alternation of ~100 month names would be tried at every position of the text.
 */
const WORD = '[a-zà-öø-ÿ]{3,10}';

function monthOf(word: string | undefined): number | undefined {
  return word === undefined ? undefined : MONTHS[word.toLowerCase()];
}

const TIME_RE = /(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?\s*((?:gmt|utc)?[+-]\d{2}:?\d{2}|z|utc|gmt|[a-z]{3,4})?\b/;
const ASCTIME_RE = new RegExp(`^(?:[a-z]{3},?\\s+)?(${WORD})\\s+(\\d{1,2})\\s+(\\d{1,2}:\\d{2}(?::\\d{2})?)\\s+(?:([a-z]{3,4}|[+-]\\d{4})\\s+)?(\\d{4})$`);
const MONTH_FIRST_RE = new RegExp(`(?:^|[^a-zà-öø-ÿ])(${WORD})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, 'g');
const DAY_FIRST_RE = new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th|er|º)?\\.?\\s+(?:of\\s+|de\\s+)?(${WORD})\\.?,?\\s+(?:de\\s+)?(\\d{4})\\b`, 'g');

/** The first match of a global pattern whose capture group `group` is a month name. */
function firstWithMonth(re: RegExp, text: string, group: number): RegExpMatchArray | null {
  for (const m of text.matchAll(re)) if (monthOf(m[group]) !== undefined) return m;
  return null;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const pad = (n: number, w = 2): string => String(Math.abs(n)).padStart(w, '0');

/** Builds the normalised form; `offset` in minutes east of UTC, null meaning "no zone given" (UTC). */
export function formatDate(
  y: number, mo: number, d: number, h: number, mi: number, s: number, frac: number, offset: number | null,
): ParsedDate | null {
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 24 || mi > 59 || s > 60) return null;
  if (h === 24 && (mi || s)) return null;
  const off = offset ?? 0;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, frac) - off * 60000;
  if (Number.isNaN(ms)) return null;
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  const fracText = frac ? `.${pad(frac, 3)}` : '';
  return { ms, iso: `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}${fracText}${zone}` };
}

function parseOffset(zone: string | undefined): number | null | undefined {
  if (!zone) return null;
  const z = zone.toUpperCase();
  if (z === 'Z' || z === 'UTC' || z === 'GMT' || z === 'UT') return 0;
  const named: Record<string, number> = { EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420, BST: 60, CET: 60, CEST: 120, IST: 330, JST: 540, AEST: 600, AEDT: 660 };
  if (named[z] !== undefined) return named[z];
  // "+05:30", "+0530", "+05" and the malformed "+5.30" some CMSs write.
  const m = /^(?:GMT|UTC)?([+-])(\d{1,2})(?:[:.]?(\d{2}))?$/.exec(z);
  if (!m) return undefined;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  if (minutes > 14 * 60) return undefined;
  return m[1] === '-' ? -minutes : minutes;
}

const ISO_LIKE = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:(?:T|\s+|,\s*)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|(?:GMT|UTC)?[+-]\d{1,2}(?:[:.]?\d{2})?|UTC|GMT|[A-Z]{3,4})?)?$/i;
const BASIC = /^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{2}:?\d{2})?)?$/;

function fromParts(parts: (string | undefined)[], zone: string | undefined): ParsedDate | null {
  const num = (i: number): number => Number(parts[i] ?? 0);
  const offset = parseOffset(zone);
  if (offset === undefined) return null;
  const fracDigits = (parts[7] ?? '').slice(0, 3).padEnd(3, '0');
  return formatDate(num(1), num(2), num(3), num(4), num(5), num(6), Number(fracDigits), offset);
}

function parseTextDate(s: string): ParsedDate | null {
  const lower = s.toLowerCase().replace(/\s+/g, ' ');
  const time = TIME_RE.exec(lower);
  let y: number, mo: number, d: number;
  // C's asctime / JavaScript's Date#toString: "Tue May 24 05:55:00 2016".
  const asctime = ASCTIME_RE.exec(lower);
  if (asctime && monthOf(asctime[1]) !== undefined) return parseTextDate(`${asctime[1]} ${asctime[2]}, ${asctime[5]} ${asctime[3]} ${asctime[4] ?? ''}`.trim());
  let m = firstWithMonth(MONTH_FIRST_RE, lower, 1);
  if (m) {
    mo = monthOf(m[1])!;
    d = Number(m[2]);
    y = Number(m[3]);
  } else {
    m = firstWithMonth(DAY_FIRST_RE, lower, 2);
    if (!m) return null;
    d = Number(m[1]);
    mo = monthOf(m[2])!;
    y = Number(m[3]);
  }
  let h = 0;
  let mi = 0;
  let sec = 0;
  let offset: number | null = null;
  if (time) {
    h = Number(time[1]);
    mi = Number(time[2]);
    sec = Number(time[3] ?? 0);
    const ampm = time[4];
    if (ampm) {
      if (h > 12) return formatDate(y, mo, d, 0, 0, 0, 0, null);
      if (ampm.startsWith('p') && h < 12) h += 12;
      if (ampm.startsWith('a') && h === 12) h = 0;
    }
    const off = parseOffset(time[5]);
    if (off === undefined) offset = null;
    else offset = off;
    if (h > 23) return formatDate(y, mo, d, 0, 0, 0, 0, null);
  }
  return formatDate(y, mo, d, h, mi, sec, 0, offset);
}

/**
 * Parses a date as pages write it in metadata and markup: ISO 8601 and its common variants
 * ("2016-05-24 13:30:03", "2015/03/10"), compact "20150310", Unix timestamps (seconds or
 * milliseconds), RFC 2822 ("Tue, 10 Mar 2015 08:05:41 GMT") and written-out dates ("March 10, 2015",
 * "10 mars 2015"). Returns null for anything else.
 */
export function parseDate(raw: string | null | undefined): ParsedDate | null {
  if (raw === null || raw === undefined) return null;
  const s = raw.trim().replace(/\s+/g, ' ');
  if (s === '' || s.length > 200) return null;
  let m = ISO_LIKE.exec(s);
  if (m) return fromParts([...m], m[8]);
  m = BASIC.exec(s);
  if (m) return fromParts([m[0], m[1], m[2], m[3], m[4], m[5], m[6], undefined], m[7]);
  if (/^\d{9,13}$/.test(s)) {
    const n = Number(s);
    const ms = s.length <= 10 ? n * 1000 : n;
    return { ms, iso: new Date(ms).toISOString() };
  }
  return parseTextDate(s);
}

/** A date worth reporting as a publication date: parseable, not in the future, not before the web. */
export function plausibleDate(raw: string | null | undefined, now: number): ParsedDate | null {
  const d = parseDate(raw);
  if (!d) return null;
  if (d.ms > now + FUTURE_SLACK_MS || d.ms < EARLIEST_PLAUSIBLE_MS) return null;
  return d;
}

/** Dates in running text, each with the month word (if any) in capture group 1. */
const TEXT_DATE_PATTERNS: readonly RegExp[] = [
  new RegExp(`(${WORD})\\.?\\s+\\d{1,2}(?:st|nd|rd|th)?,?\\s+\\d{4}(?:,?\\s+(?:at\\s+)?\\d{1,2}:\\d{2}(?:\\s*[ap]\\.?m\\.?)?(?:\\s+[a-z]{2,4}\\b)?)?`, 'gi'),
  new RegExp(`\\b\\d{1,2}(?:st|nd|rd|th|er)?\\.?\\s+(?:of\\s+|de\\s+)?(${WORD})\\.?,?\\s+(?:de\\s+)?\\d{4}`, 'gi'),
  /\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?\b/g,
];

/**
 * The first written-out or numeric date inside running text ("Posted on March 10, 2015 by …"),
 * skipping dates introduced as an update ("Updated March 12, 2015").
 */
export function findDateInText(text: string, now: number): { raw: string; date: ParsedDate } | null {
  const patterns = TEXT_DATE_PATTERNS;

  let best: { index: number; raw: string; date: ParsedDate } | null = null;
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const index = m.index ?? 0;
      if (best && index >= best.index) break;
      if (m[1] !== undefined && monthOf(m[1]) === undefined) continue;
      const before = text.slice(Math.max(0, index - 24), index).toLowerCase();
      if (/(updated|modified|edited|aktualisiert|mis à jour|actualizado)[^.]*$/.test(before)) continue;
      // A month word must stand alone ("Mayor 12, 2015" is no date).
      if (/[a-zà-ü]$/i.test(text.slice(Math.max(0, index - 1), index))) continue;
      const date = plausibleDate(m[0], now);
      if (date) {
        best = { index, raw: m[0], date };
        break;
      }
    }
  }
  return best ? { raw: best.raw, date: best.date } : null;
}
