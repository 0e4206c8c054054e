/**
 * `npm run chaos [-- --urls 2000 --seed 7 …]`: a chaos run of the whole pipeline on a local stack,
 * printed as a table, exiting non-zero when any check fails. See chaos.ts for what is checked.
 */
import { parseArgs } from 'node:util';
import type { EmulatorChoice } from '../../emulator';
import { formatReport, fullRun, runChaos, scraperPlacement, type Disturbance } from './chaos';
import { scraperCrash, scraperFreeze, storageOutage } from './disturbances';

const usage = `usage: npm run chaos -- [options]
Every run includes a rate-limiting host (2 % of the pages; a quarter of its requests, the first, answered 429 or 503 with Retry-After).
  --urls N            distinct URLs (default ${fullRun.urls})
  --seed N            chooses every page's behaviour (default ${fullRun.seed})
  --portfolio-size N  URLs per POST /portfolios (default ${fullRun.portfolioSize})
  --emulators KIND    embedded (default) or gcloud
  --push-concurrency N  pushes in flight per subscription, embedded Pub/Sub (default ${fullRun.pushConcurrency})
  --scraper-processes N the scraper as its own service of N processes (default ${fullRun.scraperProcesses}; 0 = inside
                      the stack's process, with the fault site on 8 host names instead of 127.0.0.1)
  --storage-outage S  make Firestore unavailable for S seconds once 30 % of the URLs are terminal
  --crash             SIGKILL the scraper once 30 % are terminal, restart it 1 s later (retry
                      backoff 1–4 s and transient pages failing once, so the downtime can't exhaust them)
  --outage S          take the scraper down for S seconds once 30 % are terminal (SIGKILL, restarted after
                      S s; --signal SIGSTOP freezes it instead and resumes it with SIGCONT), with the
                      local retry backoff 1–10 s: deliveries spent on the outage are re-queued
                      (e.g. --urls 2000 --outage 60: no URL may fail without a fetch error of its own;
                      BENCHMARKS.md, Chaos, has 20 s, 60 s and 5 min, killed and frozen)
  --signal SIG        SIGKILL (default) or SIGSTOP, for --outage
  --timeout S         give up waiting after S seconds (default ${fullRun.settleTimeoutS})`;

function whole(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new Error(`--${name}: expected a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      urls: { type: 'string' },
      seed: { type: 'string' },
      'portfolio-size': { type: 'string' },
      emulators: { type: 'string' },
      'push-concurrency': { type: 'string' },
      'scraper-processes': { type: 'string' },
      'storage-outage': { type: 'string' },
      crash: { type: 'boolean' },
      outage: { type: 'string' },
      signal: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const emulators = (values.emulators ?? 'embedded') as EmulatorChoice;
  if (!['embedded', 'gcloud'].includes(emulators)) throw new Error(`--emulators: expected embedded or gcloud, got "${values.emulators}"`);
  const processes = whole('scraper-processes', values['scraper-processes'], fullRun.scraperProcesses, 0, 16);
  if (values.crash && processes === 0) throw new Error('--crash needs the scraper in its own process: leave out --scraper-processes 0.');
  let disturbance: Disturbance | undefined;
  if ([values.crash, values['storage-outage'], values.outage].filter((value) => value !== undefined && value !== false).length > 1) {
    throw new Error('Choose one of --crash, --storage-outage and --outage.');
  }
  if (values.outage !== undefined && processes === 0) throw new Error('--outage needs the scraper in its own process: leave out --scraper-processes 0.');
  const signal = values.signal ?? 'SIGKILL';
  if (!['SIGKILL', 'SIGSTOP'].includes(signal)) throw new Error(`--signal: expected SIGKILL or SIGSTOP, got "${signal}"`);
  if (values.outage !== undefined) {
    const seconds = whole('outage', values.outage, 0, 1, 3600);
    disturbance = signal === 'SIGSTOP' ? scraperFreeze({ seconds, atTerminalFraction: 0.3 }) : scraperCrash({ downSeconds: seconds, atTerminalFraction: 0.3 });
  }
  if (values.crash) disturbance = scraperCrash({ downSeconds: 1, atTerminalFraction: 0.3 });
  if (values['storage-outage'] !== undefined) disturbance = storageOutage({ seconds: whole('storage-outage', values['storage-outage'], 0, 1, 3600), atTerminalFraction: 0.3 });
  const report = await runChaos({
    urls: whole('urls', values.urls, fullRun.urls, 1, 100_000),
    seed: whole('seed', values.seed, fullRun.seed, 0, 2 ** 32 - 1),
    portfolioSize: whole('portfolio-size', values['portfolio-size'], fullRun.portfolioSize, 1, 900),
    emulators,
    pushConcurrency: whole('push-concurrency', values['push-concurrency'], fullRun.pushConcurrency, 1, 1000),
    settleTimeoutMs: whole('timeout', values.timeout, fullRun.settleTimeoutS, 1, 24 * 3600) * 1000,
    ...scraperPlacement(processes),
    // As in crash.test.ts: pushes refused while the scraper is down cost attempts, so a slower backoff
    // and transient pages that fail once keep every page's promised outcome reachable.
    ...(values.crash ? { backoff: { minimumBackoffSeconds: 1, maximumBackoffSeconds: 4 }, maxTransientFailures: 1 } : {}),
    // The local stack's own backoff: with it five deliveries last about 15 s, far less than the outage.
    ...(values.outage !== undefined ? { backoff: { minimumBackoffSeconds: 1, maximumBackoffSeconds: 10 } } : {}),
    disturbance,
    progress: (line) => console.error(`chaos: ${line}`),
  });
  console.log(formatReport(report));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    console.error(usage);
    process.exit(2);
  },
);
