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
import { startEmulators } from '../emulator';
import type { PushStats } from '../emulator/pubsub';
import { startLocalStack, type LocalStack } from '../emulator/stack';
import type { LogEntry } from '../functions/src/log';
import { urlKey } from '../functions/src/urls';
import { startRetrySite } from '../test/reliability/retry-site';
import type { BenchSection } from './types';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const URLS = 200;
/** Outcomes the scraper logs (the recorder logs others, e.g. "not-yet" for a parked message offered early). */
const SCRAPER_OUTCOMES = ['waiting', 'skipped', 'retry', 'failed', 'done'];
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

/** What host A cost while B ran: counted, not timed, so a noisy machine cannot blur it. */
interface Costs {
  /** Scraper deliveries of A's URLs, by outcome. */
  scraperPushesA: number;
  /** Requests host A received. */
  fetchesA: number;
  /** Article documents of A written (each at most once here). */
  writesA: number;
  /** Messages published to the delay topic (parks) and back to the article topic (waits over). */
  delayPublishes: number;
  againPublishes: number;
  /** Pushes of the delay subscription and how many were nacked ("not yet"). */
  delayPushes: number;
  delayNacks: number;
  /** Nacks and push backoffs of the scraper's subscription, and its smallest push window. */
  mainNacks: number;
  mainBackoffs: number;
  mainMinWindow: number;
  /** Most writes of one document within any one second, over the whole run. */
  maxWritesPerDocSecond: number;
  /** Seconds from B's POST until the scraper answered A's last delivery meanwhile (A ahead of B in the queue). */
  lastOfA: number;
}

interface Run {
  name: string;
  seconds: number;
  done: number;
  failed: number;
  queued: number;
  /** Requests host A received from A's submission until B was all terminal. */
  badHostRequests: number | null;
  /** CPU seconds of this process (emulators, functions, sites) from B's POST until B was all terminal. */
  cpuSeconds: number;
  costs: Costs | null;
  pushFlow: boolean;
}

async function measure(name: string, options: { bad?: { status: 429 | 503 }; pushFlow: boolean; run: number }): Promise<Run> {
  const healthy = await startRetrySite({ latencyMs: 100 });
  const bad = await startRetrySite();
  const emulators = await startEmulators({ choice: 'embedded', pushFlow: options.pushFlow });
  // Counted from what the functions log (their lines are otherwise dropped: printing thousands of them
  // would be most of the CPU spent), from the Pub/Sub emulator's push counters and from Firestore's writes.
  const outcomes: Array<{ at: number; outcome: string; ofA: boolean }> = [];
  const log = (entry: LogEntry): void => {
    if (entry.messageId === undefined) return;
    const outcome = entry.outcome === 'requeued' ? `requeued ${entry.message.startsWith('A wait is over') ? 'again' : 'delay'}` : String(entry.outcome);
    outcomes.push({ at: Date.now(), outcome, ofA: typeof entry.url === 'string' && entry.url.startsWith(bad.origin) });
  };
  const writes: Array<{ at: number; path: string }> = [];
  const stopWatching = emulators.firestore.onDocumentWrite?.((path) => writes.push({ at: Date.now(), path }));
  const stack = await startLocalStack({ running: emulators, apiPort: 0, deps: { log } });
  const stats = (): PushStats[] => emulators.pushStats?.() ?? [];
  const main = (list: PushStats[]): PushStats | undefined => list.find((entry) => entry.subscription.endsWith(`/${stack.names.pushSubscription}`));
  const delay = (list: PushStats[]): PushStats | undefined => list.find((entry) => entry.subscription.endsWith(`/${stack.names.delaySubscription}`));
  let minWindow = Infinity;
  const sampler = setInterval(() => (minWindow = Math.min(minWindow, main(stats())?.window ?? Infinity)), 50);
  try {
    if (options.bad) {
      for (let index = 0; index < URLS; index++) bad.script(`/a/${index}`, { status: options.bad.status, retryAfter: '60' });
      await submit(stack, Array.from({ length: URLS }, (_, index) => bad.url(`/a/${index}`)));
      // A is in flight: its host has been asked.
      while (bad.total() === 0) await sleep(20);
    }
    const before = stats();
    const fetchesBefore = bad.total();
    const startedAt = Date.now();
    minWindow = Infinity;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const portfolio = await submit(stack, Array.from({ length: URLS }, (_, index) => healthy.url(`/b/${options.run}/${index}`)));
    const counts = await settle(stack, portfolio, 600_000);
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const endedAt = Date.now();
    const after = stats();
    const during = outcomes.filter((entry) => entry.at >= startedAt && entry.at <= endedAt);
    const count = (outcome: string, ofA?: boolean): number => during.filter((entry) => entry.outcome === outcome && (ofA === undefined || entry.ofA === ofA)).length;
    const perDocSecond = new Map<string, number>();
    for (const write of writes) perDocSecond.set(`${write.path} ${Math.floor(write.at / 1000)}`, (perDocSecond.get(`${write.path} ${Math.floor(write.at / 1000)}`) ?? 0) + 1);
    const articlesA = new Set(Array.from({ length: URLS }, (_, index) => urlKey(bad.url(`/a/${index}`))));
    const costs: Costs | null = options.bad
      ? {
          scraperPushesA: SCRAPER_OUTCOMES.reduce((sum, outcome) => sum + count(outcome, true), 0),
          fetchesA: bad.total() - fetchesBefore,
          writesA: writes.filter((write) => write.at >= startedAt && write.at <= endedAt && articlesA.has(write.path.split('/').pop() ?? '')).length,
          delayPublishes: count('waiting') + count('requeued delay'),
          againPublishes: count('requeued again'),
          delayPushes: (delay(after)?.pushes ?? 0) - (delay(before)?.pushes ?? 0),
          delayNacks: (delay(after)?.nacks ?? 0) - (delay(before)?.nacks ?? 0),
          mainNacks: (main(after)?.nacks ?? 0) - (main(before)?.nacks ?? 0),
          mainBackoffs: (main(after)?.backoffs ?? 0) - (main(before)?.backoffs ?? 0),
          mainMinWindow: Number.isFinite(minWindow) ? minWindow : 0,
          maxWritesPerDocSecond: Math.max(0, ...perDocSecond.values()),
          lastOfA: (Math.max(startedAt, ...during.filter((entry) => entry.ofA && SCRAPER_OUTCOMES.includes(entry.outcome)).map((entry) => entry.at)) - startedAt) / 1000,
        }
      : null;
    progress(`${name}: ${seconds.toFixed(1)} s, ${JSON.stringify(counts)}, bad host asked ${bad.total()} times${costs ? `, ${JSON.stringify(costs)}` : ''}`);
    return { name, seconds, ...counts, badHostRequests: options.bad ? bad.total() : null, cpuSeconds, costs, pushFlow: options.pushFlow };
  } finally {
    clearInterval(sampler);
    stopWatching?.();
    await stack.stop();
    await emulators.stop();
    await healthy.stop();
    await bad.stop();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

const ROUNDS = 3;

export async function run(): Promise<BenchSection> {
  // Interleaved, so a load change on the shared machine hits both sides alike: each round is B alone,
  // then B with A answering 429, then 503; B alone closes the last round.
  const runs: Run[] = [];
  // Not counted: the first run of the process pays for loading and compiling the code paths (it was
  // the slowest of every run of this benchmark).
  await measure('warm-up', { pushFlow: true, run: 1 });
  for (let round = 1; round <= ROUNDS; round++) {
    runs.push(await measure(`B alone (round ${round})`, { pushFlow: true, run: round * 10 + 1 }));
    runs.push(await measure(`B while A answers 429 Retry-After: 60 (round ${round})`, { bad: { status: 429 }, pushFlow: true, run: round * 10 + 2 }));
    runs.push(await measure(`B while A answers 503 Retry-After: 60 (round ${round})`, { bad: { status: 503 }, pushFlow: true, run: round * 10 + 3 }));
  }
  runs.push(await measure(`B alone (round ${ROUNDS + 1})`, { pushFlow: true, run: (ROUNDS + 1) * 10 + 1 }));
  const alone = runs.filter((entry) => entry.badHostRequests === null);
  const withA = runs.filter((entry) => entry.costs !== null);
  const base = median(alone.map((entry) => entry.seconds));
  // Paired: a run with A against the runs of B alone just before and after its round, measured under
  // the same load as it was (other work on a shared machine comes and goes within minutes).
  const neighbours = (entry: Run, field: 'seconds' | 'cpuSeconds'): number => {
    const at = runs.indexOf(entry);
    const before = runs.slice(0, at).reverse().find((other) => other.badHostRequests === null);
    const after = runs.slice(at + 1).find((other) => other.badHostRequests === null);
    const sides = [before, after].filter((other): other is Run => other !== undefined).map((other) => other[field]);
    return sides.reduce((sum, seconds) => sum + seconds, 0) / sides.length;
  };
  const paired = (entry: Run): number => entry.seconds / neighbours(entry, 'seconds');
  const ratio = (entry: Run): string => `${(entry.seconds / base).toFixed(2)}×`;
  const rows = runs.map(
    (entry) =>
      `| ${entry.name} | ${entry.seconds.toFixed(1)} s | ${ratio(entry)} | ${entry.costs === null ? '-' : `${paired(entry).toFixed(2)}×`} | ${entry.cpuSeconds.toFixed(1)} s | ${entry.done} / ${entry.failed} / ${entry.queued} | ${entry.badHostRequests ?? '-'} |`,
  );
  const ofStatus = (status: string): Run[] => runs.filter((entry) => entry.costs !== null && entry.name.includes(status));
  const medianOf = (status: string): number => median(ofStatus(status).map(paired));
  const unpairedOf = (status: string): number => median(ofStatus(status).map((entry) => entry.seconds)) / base;
  const [with429, with503] = [medianOf('429'), medianOf('503')];
  const worst = Math.max(with429, with503);
  const cpuOf = (list: Run[]): number => median(list.map((entry) => entry.cpuSeconds));
  const cpuAlone = cpuOf(alone);
  const cpuWithA = cpuOf(withA);
  // A's CPU per delivery, each run with A against the runs of B alone around it.
  const cpuPerA = median(withA.map((entry) => ((entry.cpuSeconds - neighbours(entry, 'cpuSeconds')) * 1000) / URLS));
  const perSecond = (value: number, entry: Run): string => `${value} (${(value / entry.seconds).toFixed(1)}/s)`;
  const costRows = withA.map((entry) => {
    const costs = entry.costs as Costs;
    return `| ${entry.name} | ${perSecond(costs.scraperPushesA, entry)} | ${costs.fetchesA} | ${perSecond(costs.writesA, entry)} | ${perSecond(costs.delayPublishes, entry)} / ${costs.againPublishes} | ${costs.delayPushes} / ${costs.delayNacks} | ${costs.mainNacks} / ${costs.mainBackoffs} / ${costs.mainMinWindow} | ${costs.maxWritesPerDocSecond} | ${costs.lastOfA.toFixed(1)} s |`;
  });
  const markdown = [
    `Local stack on the embedded emulators with the push flow-control model on (push window from 3, push backoff 100 ms–60 s), the scraper in the stack's process, pushConcurrency 16, local retry backoff 1–10 s. B: ${URLS} healthy URLs on one loopback host, pages answering after 100 ms. A: ${URLS} URLs of another loopback host answering every request 429 (then 503) with \`Retry-After: 60\`, submitted first; B is submitted once host A has been asked. Time = B's POST until B's view shows nothing queued.`,
    '',
    '| run | B to all terminal | vs the median of B alone | vs B alone before and after its round | CPU meanwhile (whole stack) | B done / failed / queued | requests host A received meanwhile |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    "What A cost while B ran, counted (the same in any machine's load): A's deliveries to the scraper, requests to host A, A's article documents written, messages parked on the delay topic / published back after their wait, the delay subscription's pushes / nacks (\"not yet\"), the scraper subscription's nacks / push backoffs / smallest push window while B ran, the most writes any one document took within one second over the whole run, and when the scraper answered the last of A's deliveries after B's POST (A's messages are ahead of B's in the queue).",
    '',
    '| run | A deliveries to the scraper | requests to host A | A articles written | parked / released | delay pushes / nacks | main nacks / backoffs / min window | max writes per document per second | last of A answered |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...costRows,
    '',
    `- Medians over ${ROUNDS} rounds, each run with A against B alone before and after its round: B with host A answering 429 ${with429.toFixed(2)}×, 503 ${with503.toFixed(2)}× B alone (goal ≤ ${GOAL}×): ${worst <= GOAL ? 'met' : 'NOT met'}; against the median of all runs of B alone ${unpairedOf('429').toFixed(2)}× and ${unpairedOf('503').toFixed(2)}×. Load average ${loadavg()[0]?.toFixed(1)} at the end (a machine shared with other work: single runs of B alone differed by up to ${(Math.max(...alone.map((entry) => entry.seconds)) / Math.min(...alone.map((entry) => entry.seconds))).toFixed(1)}×).`,
    `- CPU while B ran (median): ${cpuAlone.toFixed(1)} s alone, ${cpuWithA.toFixed(1)} s with A in flight: A's ${URLS} deliveries cost ${(((cpuWithA - cpuAlone) * 1000) / URLS).toFixed(1)} ms of CPU each (${cpuPerA.toFixed(1)} ms paired as above), against ${((cpuAlone * 1000) / URLS).toFixed(1)} ms for each of B's (fetch, extraction, lease, write).`,
    '- Host A is asked a few times in all: a 429 closes the whole host in the scraper instance until its Retry-After (its other pages are parked on the delay topic without a request), and so does the third 503-with-Retry-After in a row; none of it nacks the scraper\'s subscription, so its push window is not shrunk and no push backoff pauses it. What A costs is one delivery per URL, which for a host the instance knows is closed reads nothing: a park publish and a wait note creating the article, both shared by the parks of a burst (one Publish RPC, one commit, no transaction).',
  ].join('\n');
  return { title: 'Bad host: a rate-limiting site does not slow the others', command: 'npm run bench -- badhost', markdown };
}
