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
  ['january', 'jan', 'janvier', 'janv', 'enero', 'ene', 'januar', 'jän', 'gennaio', 'gen', 'janeiro', 'januari', 'stycznia', 'styczeń', 'января', 'январь', 'янв', 'tammikuuta'],
  ['february', 'feb', 'février', 'fevrier', 'févr', 'fév', 'febrero', 'februar', 'febbraio', 'fevereiro', 'fev', 'februari', 'lutego', 'luty', 'февраля', 'февраль', 'фев', 'helmikuuta'],
  ['march', 'mar', 'mars', 'marzo', 'märz', 'mär', 'marz', 'março', 'maret', 'maart', 'marca', 'marzec', 'марта', 'март', 'мар', 'maaliskuuta'],
  ['april', 'apr', 'avril', 'avr', 'abril', 'abr', 'aprile', 'kwietnia', 'kwiecień', 'апреля', 'апрель', 'апр', 'huhtikuuta'],
  ['may', 'mai', 'mayo', 'maggio', 'maio', 'mei', 'mag', 'maj', 'maja', 'мая', 'май', 'toukokuuta'],
  ['june', 'jun', 'juin', 'junio', 'juni', 'giugno', 'giu', 'junho', 'czerwca', 'czerwiec', 'июня', 'июнь', 'июн', 'kesäkuuta'],
  ['july', 'jul', 'juillet', 'juil', 'julio', 'juli', 'luglio', 'lug', 'julho', 'lipca', 'lipiec', 'июля', 'июль', 'июл', 'heinäkuuta'],
  ['august', 'aug', 'août', 'aout', 'agosto', 'ago', 'agustus', 'augustus', 'augusti', 'sierpnia', 'sierpień', 'августа', 'август', 'авг', 'elokuuta'],
  ['september', 'sep', 'sept', 'septembre', 'septiembre', 'set', 'settembre', 'setembro', 'września', 'wrzesień', 'сентября', 'сентябрь', 'сен', 'syyskuuta'],
  ['october', 'oct', 'octobre', 'octubre', 'oktober', 'okt', 'ottobre', 'ott', 'outubro', 'out', 'października', 'październik', 'октября', 'октябрь', 'окт', 'lokakuuta'],
  ['november', 'nov', 'novembre', 'noviembre', 'novembro', 'listopada', 'listopad', 'ноября', 'ноябрь', 'ноя', 'marraskuuta'],
  ['december', 'dec', 'décembre', 'decembre', 'déc', 'diciembre', 'dic', 'dezember', 'dez', 'dicembre', 'dezembro', 'desember', 'grudnia', 'grudzień', 'декабря', 'декабрь', 'дек', 'joulukuuta'],
].forEach((names, i) => names.forEach((n) => (MONTHS[n] = i + 1)));

/**
 * A word that may be a month name. Patterns match any word here and the code checks it against
 * MONTHS: an alternation of ~100 month names would be tried at every position of the text.
 */
const WORD = '[a-zà-öø-ÿā-žа-яё]{3,12}';

function monthOf(word: string | undefined): number | undefined {
  return word === undefined ? undefined : MONTHS[word.toLowerCase()];
}

const TIME_RE = /(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?\s*((?:gmt|utc)?[+-]\d{2}:?\d{2}|z|utc|gmt|[a-z]{3,4})?\b/;
const ASCTIME_RE = new RegExp(`^(?:[a-z]{3},?\\s+)?(${WORD})\\s+(\\d{1,2})\\s+(\\d{1,2}:\\d{2}(?::\\d{2})?)\\s+(?:([a-z]{3,4}|[+-]\\d{4})\\s+)?(\\d{4})$`);
const MONTH_FIRST_RE = new RegExp(`(?:^|[^a-zà-öø-ÿā-žа-яё])(${WORD})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, 'g');
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
export function parseDate(raw: string | null | undefined, order: DayMonthOrder = 'mdy'): ParsedDate | null {
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
  return parseCjkDate(s) ?? parseNumericDate(s, order) ?? parseTextDate(s);
}

/** Hour and minute after a date ("12:05", "12時05分", "12시 05분", "3:04 pm"), as [h, mi] or null. */
function timeAfter(rest: string): [number, number] | null {
  const m = /^\D{0,12}?(\d{1,2})\s*[:時시]\s*(\d{2})\s*(?:分|분)?\s*(am|pm|a\.m\.|p\.m\.)?/i.exec(rest);
  if (!m) return null;
  let h = Number(m[1]);
  const ampm = m[3]?.toLowerCase();
  if (ampm && h <= 12) {
    if (ampm.startsWith('p') && h < 12) h += 12;
    if (ampm.startsWith('a') && h === 12) h = 0;
  }
  return h < 24 ? [h, Number(m[2])] : null;
}

/** "2019年4月14日", "2019年04月14日 12時00分", "2019년 4월 14일" (no zone: UTC, like every zoneless value). */
const CJK_DATE = /^(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?/;

function parseCjkDate(s: string): ParsedDate | null {
  const m = CJK_DATE.exec(s);
  if (!m) return null;
  const t = timeAfter(s.slice(m[0].length));
  return formatDate(Number(m[1]), Number(m[2]), Number(m[3]), t?.[0] ?? 0, t?.[1] ?? 0, 0, 0, null);
}

/**
 * Which of two small numbers comes first in a numeric date: `'dmy'` reads 03/04/2019 as 3 April
 * (most of the world), `'mdy'` as March 4 (the US). A number over 12 settles it either way.
 */
export type DayMonthOrder = 'dmy' | 'mdy';

/**
 * Numeric dates with the year last or first: "14.04.2019" (day first, the dotted European form),
 * "04/14/2019" and "04-14-2019" (month first unless `order` says day first, or a number over 12
 * settles it), "2019/4/14" and "2019.04.14" (year first, then month), each with an optional time.
 */
function parseNumericDate(s: string, order: DayMonthOrder): ParsedDate | null {
  let y: number, mo: number, d: number;
  let rest: string;
  const yearLast = /^(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?!\d)/.exec(s);
  if (yearLast) {
    const a = Number(yearLast[1]);
    const b = Number(yearLast[3]);
    const dayFirst = a > 12 || (b <= 12 && (yearLast[2] === '.' || order === 'dmy'));
    [d, mo] = dayFirst ? [a, b] : [b, a];
    y = Number(yearLast[4]);
    rest = s.slice(yearLast[0].length);
  } else {
    const yearFirst = /^(\d{4})([./])(\d{1,2})\2(\d{1,2})(?!\d)/.exec(s);
    if (!yearFirst) return null;
    [y, mo, d] = [Number(yearFirst[1]), Number(yearFirst[3]), Number(yearFirst[4])];
    rest = s.slice(yearFirst[0].length);
  }
  if (rest !== '' && !/^[\sT,@]/.test(rest)) return null;
  const t = timeAfter(rest);
  const zone = /(z|utc|gmt|[+-]\d{2}:?\d{2}|[a-z]{3,4})\s*$/i.exec(rest);
  const offset = t && zone ? parseOffset(zone[1]) : null;
  return formatDate(y, mo, d, t?.[0] ?? 0, t?.[1] ?? 0, 0, 0, offset === undefined ? null : offset);
}

/** A date worth reporting as a publication date: parseable, not in the future, not before the web. */
export function plausibleDate(raw: string | null | undefined, now: number, order: DayMonthOrder = 'mdy'): ParsedDate | null {
  const d = parseDate(raw, order);
  if (!d) return null;
  if (d.ms > now + FUTURE_SLACK_MS || d.ms < EARLIEST_PLAUSIBLE_MS) return null;
  return d;
}

/** Dates in running text, each with the month word (if any) in capture group 1. */
const TEXT_DATE_PATTERNS: readonly RegExp[] = [
  new RegExp(`(${WORD})\\.?\\s+\\d{1,2}(?:st|nd|rd|th)?,?\\s+\\d{4}(?:,?\\s+(?:at\\s+)?\\d{1,2}:\\d{2}(?:\\s*[ap]\\.?m\\.?)?(?:\\s+[a-z]{2,4}\\b)?)?`, 'gi'),
  new RegExp(`\\b\\d{1,2}(?:st|nd|rd|th|er)?\\.?\\s+(?:of\\s+|de\\s+)?(${WORD})\\.?,?\\s+(?:de\\s+)?\\d{4}`, 'gi'),
  /\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?\b/g,
  // CJK: 2019年4月14日 12時00分, 2019년 4월 14일.
  /\d{4}\s*[年년]\s*\d{1,2}\s*[月월]\s*\d{1,2}\s*[日일]?(?:\s*(?:\([^)]{1,3}\)|（[^）]{1,3}）)?\s*\d{1,2}\s*[:時시]\s*\d{2}\s*[分분]?)?/g,
  // Numeric: 2019/4/14, 2019.04.14, 14.04.2019, 04/14/2019, 04-14-2019, with an optional time.
  /(?<![\d./-])(?:\d{4}[./]\d{1,2}[./]\d{1,2}|\d{1,2}([./-])\d{1,2}\1\d{4})(?![\d./-]?\d)(?:,?\s+\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?)?/gi,
];

/**
 * The first written-out or numeric date inside running text ("Posted on March 10, 2015 by …",
 * "2019年4月14日", "14.04.2019"), skipping dates introduced as an update ("Updated March 12, 2015").
 */
export function findDateInText(text: string, now: number, order: DayMonthOrder = 'mdy'): { raw: string; date: ParsedDate } | null {
  let best: { index: number; raw: string; date: ParsedDate } | null = null;
  for (const re of TEXT_DATE_PATTERNS) {
    for (const m of text.matchAll(re)) {
      const index = m.index ?? 0;
      if (best && index >= best.index) break;
      // Group 1 is a month word in the written-out patterns (the numeric one uses it for its separator).
      if (m[1] !== undefined && /\p{L}/u.test(m[1]) && monthOf(m[1]) === undefined) continue;
      const before = text.slice(Math.max(0, index - 40), index).toLowerCase();
      if (/(updated|modified|edited|aktualisiert|mis à jour|actualizado|更新|最終更新)[^.]*$/u.test(before)) continue;
      // A month word must stand alone ("Mayor 12, 2015" is no date).
      if (/\p{L}$/u.test(text.slice(Math.max(0, index - 1), index)) && /^\p{L}/u.test(m[0])) continue;
      const date = plausibleDate(m[0], now, order);
      if (date) {
        best = { index, raw: m[0], date };
        break;
      }
    }
  }
  return best ? { raw: best.raw, date: best.date } : null;
}
