/**
 * `npm run chaos [-- --urls 2000 --seed 7 …]`: a chaos run of the whole pipeline on a local stack,
 * printed as a table, exiting non-zero when any check fails. See chaos.ts for what is checked.
 */
import { parseArgs } from 'node:util';
import type { EmulatorChoice } from '../../emulator';
import { formatReport, runChaos } from './chaos';

const usage = `usage: npm run chaos -- [options]
  --urls N            distinct URLs (default 10000)
  --seed N            chooses every page's behaviour (default 1)
  --portfolio-size N  URLs per POST /portfolios (default 200)
  --emulators KIND    embedded (default) or gcloud
  --push-concurrency N  pushes in flight per subscription, embedded Pub/Sub (default 64)
  --timeout S         give up waiting after S seconds (default 900)`;

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
  const report = await runChaos({
    urls: whole('urls', values.urls, 10_000, 1, 100_000),
    seed: whole('seed', values.seed, 1, 0, 2 ** 32 - 1),
    portfolioSize: whole('portfolio-size', values['portfolio-size'], 200, 1, 900),
    emulators,
    pushConcurrency: whole('push-concurrency', values['push-concurrency'], 64, 1, 1000),
    settleTimeoutMs: whole('timeout', values.timeout, 900, 1, 24 * 3600) * 1000,
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
