/**
 * Fetching benchmark (`npx tsx bench/fetch.ts`): throughput of fetchPage (+ extractArticle) against a
 * loopback site, and peak memory with 50 concurrent fetches of large pages. The site runs in a child
 * process; each memory scenario runs in its own child process so its peak RSS is its own.
 * Bounded: a few hundred loopback requests and two 50-fetch bursts; nothing leaves the machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { extractArticle } from '../functions/src/extract';
import { closeSharedAgents, fetchPage, type FetchError, type FetchOptions } from '../functions/src/fetch';
import type { BenchSection } from './types';
import { percentile } from './stats';

const ARTICLES = 300;
const CONCURRENCY = 16;
const HOSTS = 8;
const BURST = 50;

interface Site {
  port: number;
  stop(): void;
}

function spawnTs(file: string, args: string[] = []): ChildProcess {
  return fork(path.join(__dirname, file), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

async function startSite(): Promise<Site> {
  const child = spawnTs('fetchSite.ts');
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`bench site exited early (${code})`)));
  });
  return { port, stop: () => child.kill() };
}

/** `host-N.bench.test` → 127.0.0.1, so per-host limits apply as they would across real sites. */
function benchOptions(port: number): Partial<FetchOptions> {
  return {
    allowPrivateNetworks: true,
    resolver: async () => ['127.0.0.1'],
    allowedPorts: [port],
  };
}

interface Throughput {
  label: string;
  kb: number;
  pages: number;
  seconds: number;
  p50: number;
  p95: number;
}

async function throughput(port: number, label: string, work: (html: string, url: string) => void): Promise<Throughput> {
  const latencies: number[] = [];
  let bytes = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < ARTICLES) {
      const n = next++;
      const url = `http://host-${n % HOSTS}.bench.test:${port}/article/${n}`;
      const t0 = performance.now();
      const page = await fetchPage(url, benchOptions(port));
      bytes += page.bytes;
      work(page.html, page.finalUrl);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { label, kb: bytes / ARTICLES / 1024, pages: ARTICLES, seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

interface MemoryResult {
  scenario: string;
  baselineMb: number;
  peakMb: number;
  outcome: string;
}

/** Runs in a child: BURST concurrent fetches of `route` from distinct hosts; reports RSS. */
async function memoryProbe(port: number, route: string): Promise<void> {
  const baseline = process.memoryUsage.rss();
  const outcomes = await Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      fetchPage(`http://host-${i}.bench.test:${port}${route}`, benchOptions(port)).then(
        (page) => `ok ${page.bytes}`,
        (error: FetchError) => error.code,
      ),
    ),
  );
  await closeSharedAgents();
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome.replace(/ \d+$/, ''), (counts.get(outcome.replace(/ \d+$/, '')) ?? 0) + 1);
  process.send?.({
    baselineMb: baseline / 2 ** 20,
    // maxRSS is in KiB and covers the whole life of this small process.
    peakMb: process.resourceUsage().maxRSS / 1024,
    outcome: [...counts].map(([what, count]) => `${count}× ${what}`).join(', '),
  });
}

async function memory(port: number, route: string, scenario: string): Promise<MemoryResult> {
  const child = spawnTs('fetch.ts', ['--memory-probe', String(port), route]);
  const result = await new Promise<Omit<MemoryResult, 'scenario'>>((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`memory probe exited (${code})`)));
  });
  child.kill();
  return { scenario, ...result };
}

export async function run(): Promise<BenchSection> {
  const site = await startSite();
  try {
    const memoryResults = [
      await memory(site.port, '/huge', `${BURST} concurrent fetches of a 20 MB chunked page (cut at the 5 MB cap)`),
      await memory(site.port, '/large', `${BURST} concurrent fetches of a 4 MB page (under the cap, read and decoded)`),
    ];
    const rates = [
      await throughput(site.port, 'fetchPage', () => undefined),
      await throughput(site.port, 'fetchPage + extractArticle', (html, url) => void extractArticle(html, url)),
    ];
    const markdown = [
      `Loopback site in a child process; ${ARTICLES} article fetches, ${CONCURRENCY} at a time over ${HOSTS} host names; Node ${process.version}.`,
      '',
      '| work | page KB (gzip on the wire) | pages | pages/s | p50 ms | p95 ms |',
      '|---|---:|---:|---:|---:|---:|',
      ...rates.map((r) => `| ${r.label} | ${r.kb.toFixed(0)} | ${r.pages} | ${(r.pages / r.seconds).toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} |`),
      '',
      '| memory scenario | RSS before MB | peak RSS MB | outcome |',
      '|---|---:|---:|---|',
      ...memoryResults.map((m) => `| ${m.scenario} | ${m.baselineMb.toFixed(0)} | ${m.peakMb.toFixed(0)} | ${m.outcome} |`),
    ].join('\n');
    return { title: 'Fetching', command: 'npx tsx bench/fetch.ts', markdown };
  } finally {
    site.stop();
    await closeSharedAgents();
  }
}

if (require.main === module) {
  const probe = process.argv.indexOf('--memory-probe');
  if (probe >= 0) {
    void memoryProbe(Number(process.argv[probe + 1]), process.argv[probe + 2] ?? '/huge');
  } else {
    run().then(
      (section) => console.log(`## ${section.title}\n\n${section.markdown}\n\n\`${section.command}\``),
      (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
  }
}
