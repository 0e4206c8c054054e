/**
 * Bad-host section of `npm run bench`: can a host that rate-limits forever slow everyone else down?
 * Portfolio B (200 healthy URLs, pages answering in 100 ms) alone, then again while portfolio A
 * (200 URLs of a host answering 429 `Retry-After: 60`, then 503 `Retry-After: 60`, to every request)
 * is in flight. The embedded Pub/Sub models the real service's push flow control (push window and
 * push backoff, emulator/pubsub/flow-control.ts), which is what a nack storm would throttle.
 * Goal: B's time to all-terminal with A ≤ 1.25× B alone.
 *
 * Run alone: `npm run bench -- badhost`.
 */
import { loadavg } from 'node:os';
import { startLocalStack, type LocalStack } from '../emulator/stack';
import { startRetrySite } from '../test/reliability/retry-site';
import type { BenchSection } from './types';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const URLS = 200;
const GOAL = 1.25;

function progress(line: string): void {
  process.stderr.write(`[bench/badhost] ${line}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function submit(stack: LocalStack, urls: string[]): Promise<string> {
  const response = await fetch(`${stack.apiUrl}/portfolios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls }) });
  const body = (await response.json()) as { portfolioId?: string };
  if (response.status !== 202 || body.portfolioId === undefined) throw new Error(`POST /portfolios answered ${response.status}: ${JSON.stringify(body)}`);
  return body.portfolioId;
}

/** Polls the portfolio until nothing is queued; resolves with the counts. */
async function settle(stack: LocalStack, portfolioId: string, timeoutMs: number): Promise<{ done: number; failed: number; queued: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${stack.apiUrl}/portfolios/${portfolioId}`);
    const body = (await response.json()) as { counts: { done: number; failed: number; queued: number } };
    if (body.counts.queued === 0 || Date.now() > deadline) return body.counts;
    await sleep(100);
  }
}

interface Run {
  name: string;
  seconds: number;
  done: number;
  failed: number;
  queued: number;
  /** Requests host A received from A's submission until B was all terminal. */
  badHostRequests: number | null;
  pushFlow: boolean;
}

async function measure(name: string, options: { bad?: { status: 429 | 503 }; pushFlow: boolean; run: number }): Promise<Run> {
  const healthy = await startRetrySite({ latencyMs: 100 });
  const bad = await startRetrySite();
  // The functions' log lines are dropped: printing thousands of them would be most of the CPU spent.
  const stack = await startLocalStack({ emulators: 'embedded', apiPort: 0, pushFlow: options.pushFlow, deps: { log: () => undefined } });
  try {
    if (options.bad) {
      for (let index = 0; index < URLS; index++) bad.script(`/a/${index}`, { status: options.bad.status, retryAfter: '60' });
      await submit(stack, Array.from({ length: URLS }, (_, index) => bad.url(`/a/${index}`)));
      // A is in flight: its host has been asked.
      while (bad.total() === 0) await sleep(20);
    }
    const started = performance.now();
    const portfolio = await submit(stack, Array.from({ length: URLS }, (_, index) => healthy.url(`/b/${options.run}/${index}`)));
    const counts = await settle(stack, portfolio, 600_000);
    const seconds = (performance.now() - started) / 1000;
    progress(`${name}: ${seconds.toFixed(1)} s, ${JSON.stringify(counts)}, bad host asked ${bad.total()} times`);
    return { name, seconds, ...counts, badHostRequests: options.bad ? bad.total() : null, pushFlow: options.pushFlow };
  } finally {
    await stack.stop();
    await healthy.stop();
    await bad.stop();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

export async function run(): Promise<BenchSection> {
  // Interleaved, twice, so a load change on the shared machine hits both sides alike.
  const runs: Run[] = [];
  for (let round = 1; round <= 2; round++) {
    runs.push(await measure(`B alone (round ${round})`, { pushFlow: true, run: round * 10 + 1 }));
    runs.push(await measure(`B while A answers 429 Retry-After: 60 (round ${round})`, { bad: { status: 429 }, pushFlow: true, run: round * 10 + 2 }));
    runs.push(await measure(`B while A answers 503 Retry-After: 60 (round ${round})`, { bad: { status: 503 }, pushFlow: true, run: round * 10 + 3 }));
  }
  runs.push(await measure('B alone (round 3)', { pushFlow: true, run: 31 }));
  const alone = runs.filter((entry) => entry.badHostRequests === null);
  const base = median(alone.map((entry) => entry.seconds));
  const ratio = (entry: Run): string => `${(entry.seconds / base).toFixed(2)}×`;
  const rows = runs.map(
    (entry) =>
      `| ${entry.name} | ${entry.seconds.toFixed(1)} s | ${ratio(entry)} | ${entry.done} / ${entry.failed} / ${entry.queued} | ${entry.badHostRequests ?? '-'} |`,
  );
  const medianOf = (status: string): number => median(runs.filter((entry) => entry.name.includes(status)).map((entry) => entry.seconds)) / base;
  const [with429, with503] = [medianOf('429'), medianOf('503')];
  const worst = Math.max(with429, with503);
  const markdown = [
    `Local stack on the embedded emulators with the push flow-control model on (push window from 3, push backoff 100 ms–60 s), the scraper in the stack's process, pushConcurrency 16, local retry backoff 1–10 s. B: ${URLS} healthy URLs on one loopback host, pages answering after 100 ms. A: ${URLS} URLs of another loopback host answering every request 429 (then 503) with \`Retry-After: 60\`, submitted first; B is submitted once host A has been asked. Time = B's POST until B's view shows nothing queued.`,
    '',
    '| run | B to all terminal | vs the median of B alone | B done / failed / queued | requests host A received meanwhile |',
    '|---|---:|---:|---:|---:|',
    ...rows,
    '',
    `- Medians: B with host A answering 429 ${with429.toFixed(2)}×, 503 ${with503.toFixed(2)}× B alone (goal ≤ ${GOAL}×): ${worst <= GOAL ? 'met' : 'NOT met'}; load average ${loadavg()[0]?.toFixed(1)} at the end (a machine shared with other work: single runs of B alone differed by up to ${(Math.max(...alone.map((entry) => entry.seconds)) / Math.min(...alone.map((entry) => entry.seconds))).toFixed(1)}×).`,
    '- Host A is asked a few times in all: a 429 closes the whole host in the scraper instance until its Retry-After (its other pages are parked on the delay topic without a request), and so does the third 503-with-Retry-After in a row; none of it nacks the scraper\'s subscription, so its push window is not shrunk and no push backoff pauses it.',
  ].join('\n');
  return { title: 'Bad host: a rate-limiting site does not slow the others', command: 'npm run bench -- badhost', markdown };
}
