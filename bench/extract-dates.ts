/**
 * Written dates: the hand-written parser (extract/dates.ts findDateInText) against chrono-node, on the
 * texts the extractor's last-resort date rule reads (the opening of the article and the containers
 * around its headline) of every page of both evaluation sets that has a true day. Accuracy: the first
 * full date (day, month and year) found is the true day (±1 day for set 2, as its scorer's `date~`);
 * speed: milliseconds per page for the same texts, interleaved.
 *
 *   npx tsx bench/extract-dates.ts
 *
 * chrono-node is run with the locales it ships for the languages the set has (en, ja, zh, de, fr, nl,
 * pt, ru, es, it): each locale's parser on each text, the earliest full date wins, and dates after an
 * "Updated" label are skipped, as the hand-written parser does.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findDateInText, plausibleDate } from '../functions/src/extract/dates';
import { createPage } from '../functions/src/extract/page';
import { dayMonthOrder, openingTexts } from '../functions/src/extract/published';
import { evalDir } from './extract-eval';
import type { BenchSection } from './types';
import { median } from './stats';

interface Case {
  set: 1 | 2;
  texts: string[];
  order: 'dmy' | 'mdy';
  day: string;
}

interface ChronoResult {
  index: number;
  text: string;
  start: { isCertain(c: string): boolean; date(): Date };
}
type ChronoParse = (text: string, ref?: Date) => ChronoResult[];

function chronoParsers(): ChronoParse[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const chrono = require('chrono-node') as Record<string, { parse?: ChronoParse } | ChronoParse>;
  const parsers: ChronoParse[] = [];
  for (const locale of ['en', 'ja', 'zh', 'de', 'fr', 'nl', 'pt', 'ru', 'es', 'it']) {
    const l = chrono[locale] as { parse?: ChronoParse } | undefined;
    if (l && typeof l.parse === 'function') parsers.push(l.parse.bind(l));
  }
  return parsers;
}

function chronoFind(parsers: readonly ChronoParse[], text: string, now: number): string | null {
  let best: { index: number; day: string } | null = null;
  for (const parse of parsers) {
    let results: ChronoResult[];
    try {
      results = parse(text, new Date(now));
    } catch {
      continue;
    }
    for (const r of results) {
      if (!r.start.isCertain('year') || !r.start.isCertain('month') || !r.start.isCertain('day')) continue;
      if (best && r.index >= best.index) break;
      if (/(updated|modified|aktualisiert|mis à jour|actualizado|更新)[^.]*$/i.test(text.slice(Math.max(0, r.index - 40), r.index))) continue;
      const d = r.start.date();
      if (d.getTime() > now || d.getTime() < Date.UTC(1991, 0, 1)) continue;
      // chrono builds the date in the machine's zone; its calendar day is what was written.
      const day = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
      best = { index: r.index, day };
      break;
    }
  }
  return best?.day ?? null;
}

function handFind(c: Case, now: number): string | null {
  for (const text of c.texts) {
    const found = findDateInText(text, now, c.order);
    if (found) return found.date.iso.slice(0, 10);
  }
  return null;
}

const dayNumber = (ymd: string): number => Math.floor(Date.parse(`${ymd}T00:00:00Z`) / 86400000);
const correct = (c: Case, got: string | null): boolean => got !== null && Math.abs(dayNumber(got) - dayNumber(c.day)) <= (c.set === 2 ? 1 : 0);

function loadCases(now: number): Case[] {
  const cases: Case[] = [];
  for (const set of [1, 2] as const) {
    const dir = evalDir(undefined, process.env, set);
    let truth: { pages: { file: string; url: string | null; publishedTime?: string | null; publishedDay?: string | null }[] };
    try {
      truth = JSON.parse(readFileSync(path.join(dir, 'truth.json'), 'utf8'));
    } catch {
      continue;
    }
    for (const p of truth.pages) {
      const day = (set === 1 ? p.publishedTime : p.publishedDay)?.slice(0, 10);
      if (!day || !plausibleDate(day, now)) continue;
      const page = createPage(readFileSync(path.join(dir, p.file), 'utf8'), p.url ?? 'https://example.com/test/page.html', now);
      cases.push({ set, texts: openingTexts(page), order: dayMonthOrder(page), day });
    }
  }
  return cases;
}

export async function run(): Promise<BenchSection> {
  const now = Date.now();
  const cases = loadCases(now);
  if (!cases.length) return { title: 'Written dates', command: 'npx tsx bench/extract-dates.ts', markdown: 'No evaluation set found; skipped.' };
  const parsers = chronoParsers();
  // Warm-up, untimed.
  for (const c of cases.slice(0, 5)) {
    handFind(c, now);
    c.texts.forEach((t) => chronoFind(parsers, t, now));
  }
  const rows = { hand: { ms: [] as number[], found: 0, right: [0, 0, 0] }, chrono: { ms: [] as number[], found: 0, right: [0, 0, 0] } };
  const totals = [0, 0, 0];
  for (const c of cases) {
    totals[c.set]!++;
    let t0 = performance.now();
    const hand = handFind(c, now);
    rows.hand.ms.push(performance.now() - t0);
    t0 = performance.now();
    let chrono: string | null = null;
    for (const t of c.texts) {
      chrono = chronoFind(parsers, t, now);
      if (chrono) break;
    }
    rows.chrono.ms.push(performance.now() - t0);
    for (const [key, got] of [['hand', hand], ['chrono', chrono]] as const) {
      if (got) rows[key].found++;
      if (correct(c, got)) rows[key].right[c.set]!++;
    }
  }
  const fmt = (r: typeof rows.hand): string =>
    `${r.right[1]}/${totals[1]} | ${r.right[2]}/${totals[2]} | ${r.found} | ${median(r.ms).toFixed(3)} | ${(r.ms.reduce((a, b) => a + b, 0) / r.ms.length).toFixed(3)} |`;
  const markdown = [
    `Texts the last-resort date rule reads, on the ${cases.length} pages of both sets that have a true day (set 1 same day, set 2 ±1 day); no metadata involved.`,
    '',
    '| written-date parser | right, set 1 | right, set 2 | pages with a date found | median ms/page | mean ms/page |',
    '|---|---|---|---|---|---|',
    `| extract/dates.ts findDateInText (hand-written) | ${fmt(rows.hand)}`,
    `| chrono-node ${chronoVersion()} (${parsers.length} locales) | ${fmt(rows.chrono)}`,
  ].join('\n');
  return { title: 'Written dates', command: 'npx tsx bench/extract-dates.ts', markdown };
}

function chronoVersion(): string {
  try {
    const file = require.resolve('chrono-node').replace(/dist[\\/].*$/, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '';
  }
}

if (require.main === module) {
  run().then(
    (s) => console.log(`## ${s.title}\n\n\`${s.command}\`\n\n${s.markdown}`),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
