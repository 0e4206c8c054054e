/**
 * Extraction benchmark (`npx tsx bench/extract.ts`, also `npm run bench -- extract`):
 * - speed: milliseconds per page for extractArticle and for the bare htmlparser2 parse of the same
 *   pages, interleaved in one run, on each evaluation set (goal: extractArticle's median ≤ 2× the
 *   parse's, and ≤ 6 ms/page on set 2), plus a synthetic 5 MB page;
 * - accuracy side by side: extractArticle and its peers (bench/extract-peers.ts) through both sets'
 *   own scorers, in this run;
 * - written dates: the hand-written parser against chrono-node (bench/extract-dates.ts).
 * The sets are `../shared/eval` and `../shared/eval2` (or EXTRACT_EVAL_DIR / EXTRACT_EVAL2_DIR); they are
 * measurement data, never copied into the project. Without them the real-page rows are skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'htmlparser2';
import { extractArticle } from '../functions/src/extract';
import { parseHtml } from '../functions/src/extract/dom';
import { run as runDates } from './extract-dates';
import { EVAL_SETS, evalDir } from './extract-eval';
import { PEERS } from './extract-peers';
import type { BenchSection } from './types';
import { median, percentile } from './stats';

interface EvalPage {
  file: string;
  url: string | null;
}

const FALLBACK_URL = 'https://example.com/test/page.html';
/** Timed runs of each page (the fastest counts). */
const ROUNDS = 5;

function summary(ms: number[]): { median: number; p95: number } {
  return { median: median(ms), p95: percentile(ms, 95) };
}

function timeSync(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function loadSet(set: keyof typeof EVAL_SETS): { html: string; url: string }[] {
  const dir = evalDir(undefined, process.env, set);
  try {
    const truth = JSON.parse(readFileSync(path.join(dir, 'truth.json'), 'utf8')) as { pages: EvalPage[] };
    return truth.pages.map((p) => ({ html: readFileSync(path.join(dir, p.file), 'utf8'), url: p.url ?? FALLBACK_URL }));
  } catch {
    return [];
  }
}

/** One scorer run of one peer on one set: the fields of its summary line, or null when it failed. */
function score(set: keyof typeof EVAL_SETS, peer: string): Record<string, string> | null {
  const dir = evalDir(undefined, process.env, set);
  const scorer = path.join(dir, 'score.mjs');
  if (!existsSync(scorer)) return null;
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', scorer, '--truth', path.join(dir, 'truth.json'), '--module', path.join(__dirname, 'extract-peers.ts'), '--name', peer],
    { encoding: 'utf8', env: { ...process.env, EXTRACT_PEER: peer, TZ: 'UTC' }, maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 },
  );
  const lines = (result.stdout ?? '').trim().split('\n');
  const last = set === 1 ? lines.reverse().find((l) => /^title \S+ date/.test(l)) : lines.find((l) => l.startsWith(`${peer}:`));
  if (!last) return null;
  const out: Record<string, string> = {};
  for (const m of last.matchAll(/(title|date~|date|image|author|words|outline) (\d\.\d\d|\s+-\s)/g)) out[m[1]!] ??= m[2]!.trim();
  const ms = /ms\/page median (\S+)/.exec(last);
  if (ms) out['ms'] = ms[1]!;
  return out;
}

/** A 5 MB article page: a long body of paragraphs and headings between heavy navigation and footer. */
export function syntheticPage(targetBytes = 5 * 1024 * 1024): string {
  const para = '<p>The committee met on a rainy morning, argued for an hour about the budget, and agreed, in the end, to meet again next week. <a href="/x">More</a> on that later.</p>\n';
  const nav = '<nav><ul>' + Array.from({ length: 200 }, (_, i) => `<li><a href="/s/${i}">Section ${i}</a></li>`).join('') + '</ul></nav>';
  const parts = ['<!DOCTYPE html><html lang="en"><head><title>A very long page | Bench</title>',
    '<meta property="og:image" content="/lead.jpg"><meta property="article:published_time" content="2024-01-02T03:04:05Z">',
    '</head><body>', nav, '<main><article><h1>A very long page</h1>'];
  let size = parts.join('').length;
  let i = 0;
  while (size < targetBytes - 20000) {
    const chunk = (i % 20 === 0 ? `<h2>Part ${i / 20}</h2>\n` : '') + `<div class="block">${para}${para}</div>\n`;
    parts.push(chunk);
    size += chunk.length;
    i++;
  }
  parts.push('</article></main><footer>' + 'Legal notice. '.repeat(1000) + '</footer></body></html>');
  return parts.join('');
}

const fmt = (n: number): string => n.toFixed(1);

/** Start tags in a page: a parser-free count, for describing page density. */
function countElements(html: string): number {
  return (html.match(/<[a-zA-Z]/g) ?? []).length;
}

export async function run(): Promise<BenchSection> {
  const rows: string[] = [];
  const notes: string[] = [];
  const sets = [1, 2] as const;
  const bySet = new Map(sets.map((set) => [set, loadSet(set)] as const));
  for (const set of sets) {
    const pages = bySet.get(set)!;
    if (!pages.length) {
      notes.push(`Set ${set} rows skipped: no evaluation set at ${evalDir(undefined, process.env, set)}.`);
      continue;
    }
    // Warm-up, untimed: module loading and JIT are not a per-page cost.
    for (const p of pages.slice(0, 10)) {
      extractArticle(p.html, p.url);
      parseDocument(p.html);
    }
    // Each page ROUNDS times, the three interleaved, keeping each one's fastest: on shared cores a
    // single run of a page is often slowed by another process, and the minimum is the page's cost.
    const ours: number[] = [];
    const bare: number[] = [];
    const slim: number[] = [];
    for (const p of pages) {
      let o = Infinity;
      let b = Infinity;
      let c = Infinity;
      for (let r = 0; r < ROUNDS; r++) {
        b = Math.min(b, timeSync(() => parseDocument(p.html)));
        o = Math.min(o, timeSync(() => extractArticle(p.html, p.url)));
        c = Math.min(c, timeSync(() => parseHtml(p.html)));
      }
      bare.push(b);
      ours.push(o);
      slim.push(c);
    }
    const o = summary(ours);
    const b = summary(bare);
    const c = summary(slim);
    const sizes = summary(pages.map((p) => p.html.length / 1024));
    rows.push(`| set ${set}: extractArticle (all fields), fastest of ${ROUNDS} | ${pages.length} | ${fmt(o.median)} | ${fmt(o.p95)} |`);
    rows.push(`| set ${set}: parse only, bare htmlparser2 parseDocument | ${pages.length} | ${fmt(b.median)} | ${fmt(b.p95)} |`);
    rows.push(`| set ${set}: parse only, within the budget through cheerio/slim (what extractArticle runs) | ${pages.length} | ${fmt(c.median)} | ${fmt(c.p95)} |`);
    notes.push(
      `Set ${set}: extractArticle median is ${(o.median / b.median).toFixed(2)}× the bare htmlparser2 parse (goal ≤ 2×) and ` +
        `${(o.median / c.median).toFixed(2)}× the budgeted parse it runs itself${set === 2 ? `; ${fmt(o.median)} ms/page (goal ≤ 6)` : ''}; ${pages.length} pages, median ${sizes.median.toFixed(0)} KB.`,
    );
  }

  const big = syntheticPage();
  extractArticle(big, 'https://example.com/big');
  const bigRuns: number[] = [];
  for (let i = 0; i < 5; i++) bigRuns.push(timeSync(() => extractArticle(big, 'https://example.com/big')));
  const bs = summary(bigRuns);
  rows.push(`| extractArticle, synthetic ${(big.length / 1024 / 1024).toFixed(1)} MB page (5 runs) | 1 | ${fmt(bs.median)} | ${fmt(Math.max(...bigRuns))} (max) |`);
  notes.push(`Synthetic page: ${(big.length / 1024 / 1024).toFixed(1)} MB of dense article markup (${countElements(big)} elements).`);

  const peerRows: string[] = [];
  if (bySet.get(1)!.length || bySet.get(2)!.length) {
    for (const [name, peer] of Object.entries(PEERS)) {
      const a = score(1, name);
      const b = score(2, name);
      const cell = (r: Record<string, string> | null, k: string): string => r?.[k] ?? 'n/a';
      peerRows.push(
        `| ${peer.label} | ${['title', 'date', 'image', 'words', 'outline'].map((k) => cell(a, k)).join(' | ')} | ${cell(a, 'ms')} | ` +
          `${['title', 'date', 'date~', 'image', 'author', 'words'].map((k) => cell(b, k)).join(' | ')} | ${cell(b, 'ms')} |`,
      );
    }
  }
  const dates = await runDates();

  const markdown = [
    '| what | pages | median ms/page | p95 ms/page |',
    '|---|---|---|---|',
    ...rows,
    '',
    ...notes.map((n) => `- ${n}`),
    ...(peerRows.length
      ? [
          '',
          'Accuracy and speed side by side, each extractor through both sets\' own scorers in this run (set 2 with `TZ=UTC`; a field an extractor has no output for scores 0.00; ms/page is the scorer\'s in-process median):',
          '',
          '| extractor | set 1 title | date | image | words | outline | ms/page | set 2 title | date | date~ | image | author | words | ms/page |',
          '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
          ...peerRows,
        ]
      : []),
    '',
    `### ${dates.title}`,
    '',
    dates.markdown,
  ].join('\n');
  return { title: 'Extraction', command: 'npx tsx bench/extract.ts', markdown };
}

if (require.main === module) {
  run().then(
    (section) => console.log(`## ${section.title}\n\n\`${section.command}\`\n\n${section.markdown}`),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
