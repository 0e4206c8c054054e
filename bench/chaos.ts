/**
 * Chaos section of `npm run bench`: the fault site through the whole pipeline, once undisturbed and
 * once with the scraper SIGKILLed mid-run, each checked as `npm run chaos` checks it (every URL
 * terminal, none lost, no duplicate documents, dead letters = never-succeeding pages, transient
 * pages done). Sized to take a few minutes; `npm run chaos` is the 10,000-URL run.
 *
 * Run alone: `npm run bench -- chaos`.
 */
import { formatReport, fullRun, runChaos, scraperPlacement, type ChaosReport } from '../test/reliability/chaos';
import { scraperCrash } from '../test/reliability/disturbances';
import type { BenchSection } from './types';

const URLS = 2_000;
const CRASH_URLS = 500;

function progress(line: string): void {
  process.stderr.write(`[bench/chaos] ${line}\n`);
}

function checkCell(report: ChaosReport, id: string): string {
  const check = report.checks.find((entry) => entry.id === id);
  return check === undefined ? '?' : check.ok ? 'pass' : 'FAIL';
}

function row(name: string, report: ChaosReport): string {
  const deadLetters = report.rows.reduce((sum, entry) => sum + (entry.failed['dead-lettered'] ?? 0), 0);
  const never = report.rows.find((entry) => entry.category === 'never')?.pages ?? 0;
  return `| ${name} | ${report.urls} | ${report.accepted} | ${(report.wallMs / 1000).toFixed(1)} s | ${report.pagesPerSecond.toFixed(1)} | ${checkCell(report, 'terminal')} | ${checkCell(report, 'lost')} | ${checkCell(report, 'duplicates')} | ${deadLetters} / ${never} | ${checkCell(report, 'transient')} | ${report.ok ? 'all pass' : 'SOME FAIL'} |`;
}

export async function run(): Promise<BenchSection> {
  const base = { seed: fullRun.seed, portfolioSize: fullRun.portfolioSize, pushConcurrency: fullRun.pushConcurrency, settleTimeoutMs: 900_000, progress };
  progress(`undisturbed run of ${URLS} URLs`);
  const calm = await runChaos({ ...base, urls: URLS, ...scraperPlacement(fullRun.scraperProcesses) });
  progress(`crash run of ${CRASH_URLS} URLs`);
  // As npm run chaos --crash: refused pushes cost attempts, so a slower backoff and transient pages failing once.
  const crash = await runChaos({
    ...base,
    urls: CRASH_URLS,
    ...scraperPlacement(fullRun.scraperProcesses),
    backoff: { minimumBackoffSeconds: 1, maximumBackoffSeconds: 4 },
    maxTransientFailures: 1,
    disturbance: scraperCrash({ downSeconds: 1, atTerminalFraction: 0.3 }),
  });
  const markdown = [
    `Embedded emulators; the scraper as its own service of ${fullRun.scraperProcesses} processes; fault site mix 20 % transient, 5 % permanent, 2 % never succeeding, the rest healthy (some slow); 5 % of the URLs submitted twice in another portfolio.`,
    '',
    '| run | URLs | accepted | wall time | pages/s | all terminal | none lost | no duplicates | dead-lettered / never-succeeding | transient → done | checks |',
    '|---|---:|---:|---:|---:|---|---|---|---:|---|---|',
    row('undisturbed', calm),
    row('scraper SIGKILLed at 30 %, restarted 1 s later', crash),
    '',
    'The undisturbed run, as `npm run chaos` prints it:',
    '',
    '```',
    formatReport(calm),
    '```',
    '',
    'The crash run:',
    '',
    '```',
    formatReport(crash),
    '```',
  ].join('\n');
  return { title: 'Chaos', command: 'npm run bench -- chaos', markdown };
}
