/**
 * Extraction benchmark (`npx tsx bench/extract.ts [evalDir]`): milliseconds per page for extractArticle
 * and for metascraper (title, date, image, description, author, url rules) on the same real pages in the
 * same run, the parser choice measured on its own (parse5 vs htmlparser2 through cheerio), and a
 * synthetic 5 MB page. The real pages are the shared evaluation set (EXTRACT_EVAL_DIR, else
 * ../shared/eval from the repository root); without it the real-page rows are skipped with a message.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load as loadParse5 } from 'cheerio';
import { extractArticle } from '../functions/src/extract';
import { parseHtml } from '../functions/src/extract/dom';
import { evalDir } from './extract-eval';
import type { BenchSection } from './types';

interface EvalPage {
  id: string;
  file: string;
  url: string | null;
}

const FALLBACK_URL = 'https://example.com/test/page.html';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function summary(ms: number[]): { median: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, p95: percentile(s, 95) };
}

function timeSync(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

type Scraper = (input: { html: string; url: string }) => Promise<unknown>;

function metascraper(): Scraper {
  // Loaded lazily: a devDependency of the benchmark only. Its re2 native addon is not built here;
  // metascraper falls back to JavaScript RegExp, which is what this measures.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const create = require('metascraper') as (rules: unknown[]) => Scraper;
  const rules = ['metascraper-author', 'metascraper-date', 'metascraper-description', 'metascraper-image', 'metascraper-title', 'metascraper-url']
    .map((name) => (require(name) as () => unknown)());
  /* eslint-enable @typescript-eslint/no-require-imports */
  return create(rules);
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

export async function run(dirArg?: string): Promise<BenchSection> {
  const dir = evalDir(dirArg);
  const rows: string[] = [];
  const notes: string[] = [];
  let pages: { html: string; url: string }[] = [];
  try {
    const truth = JSON.parse(readFileSync(path.join(dir, 'truth.json'), 'utf8')) as { pages: EvalPage[] };
    pages = truth.pages.map((p) => ({ html: readFileSync(path.join(dir, p.file), 'utf8'), url: p.url ?? FALLBACK_URL }));
  } catch {
    notes.push(`Real-page rows skipped: no evaluation set at ${dir} (set EXTRACT_EVAL_DIR or pass the folder).`);
  }

  if (pages.length) {
    const scrape = metascraper();
    // Warm-up, untimed: module loading and JIT are not a per-page cost.
    for (const p of pages.slice(0, 5)) {
      extractArticle(p.html, p.url);
      await scrape(p);
    }
    const ours: number[] = [];
    const theirs: number[] = [];
    const parse5: number[] = [];
    const htmlparser2: number[] = [];
    for (const p of pages) {
      ours.push(timeSync(() => extractArticle(p.html, p.url)));
      theirs.push(await timeAsync(() => scrape(p)));
      parse5.push(timeSync(() => loadParse5(p.html)));
      htmlparser2.push(timeSync(() => parseHtml(p.html)));
    }
    const o = summary(ours);
    const m = summary(theirs);
    const sizes = summary(pages.map((p) => p.html.length / 1024));
    rows.push(`| extractArticle (all fields) | ${pages.length} | ${fmt(o.median)} | ${fmt(o.p95)} |`);
    rows.push(`| metascraper 5.49 (author, date, description, image, title, url) | ${pages.length} | ${fmt(m.median)} | ${fmt(m.p95)} |`);
    const a = summary(parse5);
    const b = summary(htmlparser2);
    rows.push(`| parse only: cheerio.load (parse5) | ${pages.length} | ${fmt(a.median)} | ${fmt(a.p95)} |`);
    rows.push(`| parse only: cheerio/slim (htmlparser2), used by extractArticle | ${pages.length} | ${fmt(b.median)} | ${fmt(b.p95)} |`);
    const density = summary(pages.map((p) => p.html.length / Math.max(1, countElements(p.html))));
    notes.push(`Pages: the ${pages.length} pages of the shared evaluation set (median size ${sizes.median.toFixed(0)} KB, median ${density.median.toFixed(0)} bytes per element), each run once per extractor, interleaved.`);
    notes.push(`extractArticle median is ${(o.median / m.median).toFixed(2)}× metascraper's (goal ≤ 0.33×).`);
  }

  const big = syntheticPage();
  extractArticle(big, 'https://example.com/big');
  const bigRuns: number[] = [];
  const bigCpu: number[] = [];
  for (let i = 0; i < 5; i++) {
    const cpu0 = process.cpuUsage();
    bigRuns.push(timeSync(() => extractArticle(big, 'https://example.com/big')));
    const cpu = process.cpuUsage(cpu0);
    bigCpu.push((cpu.user + cpu.system) / 1000);
  }
  const bs = summary(bigRuns);
  rows.push(`| extractArticle, synthetic ${(big.length / 1024 / 1024).toFixed(1)} MB page (5 runs) | 1 | ${fmt(bs.median)} | ${fmt(Math.max(...bigRuns))} (max) |`);
  notes.push(
    `Synthetic page: ${(big.length / 1024 / 1024).toFixed(1)} MB of dense article markup (${countElements(big)} elements, ` +
      `${(big.length / countElements(big)).toFixed(0)} bytes per element — as dense as a long Wikipedia page, a worst case), ` +
      `process CPU time per run median ${fmt(summary(bigCpu).median)} ms (all threads: V8's parallel garbage collector included, so it can exceed wall time).`,
  );

  const markdown = [
    '| what | pages | median ms/page | p95 ms/page |',
    '|---|---|---|---|',
    ...rows,
    '',
    ...notes.map((n) => `- ${n}`),
  ].join('\n');
  return { title: 'Extraction', command: 'npx tsx bench/extract.ts', markdown };
}

if (require.main === module) {
  const dirArg = process.argv[2];
  run(dirArg).then(
    (section) => console.log(`## ${section.title}\n\n\`${section.command}\`\n\n${section.markdown}`),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
