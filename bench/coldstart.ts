/**
 * Cold start of the deployed functions: from spawning functions-framework (NODE_ENV=production, as
 * Cloud Run starts an instance) to the complete answer of each function's first real request —
 * `api` accepts a one-URL portfolio (Firestore write + Pub/Sub publish), `scrapeArticle` scrapes a
 * pushed URL from a loopback site and stores it, `recordDeadLetter` records a pushed dead letter.
 *
 * Before: the tsc build, one module registering all three functions (what was deployed).
 * Bundle: one esbuild bundle per function (build/bundle.ts), each loading only what it uses.
 * Deployed: the bundle with its V8 code cache (functions/src/coldstart/), preloaded through
 * NODE_OPTIONS as infra/ sets it and written by the archive's warm-up, as Cloud Build runs it.
 * All are built into .build/coldstart/ by this run and measured interleaved, against the same
 * embedded emulators in this process, median of 5 spawns each.
 *
 * Run: `npx tsx bench/coldstart.ts` (or `npm run bench -- coldstart`).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { bundleFunctions, DEPLOYED_TARGETS, ENTRY_FILE, PRELOAD_FILE, type DeployedTarget } from '../build/bundle';
import { warmUp } from '../functions/src/coldstart/warmup';
import { startEmulators } from '../emulator';
import { topology } from '../functions/src/topology';
import { canonicalizeUrl } from '../functions/src/urls';
import { startArticleSite } from '../test/helpers/articleSite';
import { coldStart, emulatedFunctionEnv, type FirstRequest } from '../test/helpers/coldStart';
import type { BenchSection } from './types';
import { median } from './stats';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, '.build', 'coldstart');
const RUNS = 5;
const GOAL_MS = 300;

function progress(message: string): void {
  process.stderr.write(`[bench/coldstart] ${message}\n`);
}

function pushEnvelope(data: unknown, attributes: Record<string, string> = {}): string {
  return JSON.stringify({
    subscription: `projects/bench/subscriptions/${topology.pushSubscription}`,
    message: { data: Buffer.from(JSON.stringify(data)).toString('base64'), attributes, messageId: String(Date.now()), publishTime: new Date().toISOString() },
  });
}

export async function run(): Promise<BenchSection> {
  const load = [loadavg()[0] ?? 0];
  progress('building: tsc (before) and esbuild bundles (after)…');
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(OUT, 'before')], { cwd: ROOT, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  await bundleFunctions(path.join(OUT, 'after'));
  const before = path.join(OUT, 'before', 'functions', 'src', 'index.js');
  // The floor: functions-framework serving a function that loads nothing and answers at once.
  const floor = path.join(OUT, 'floor', ENTRY_FILE);
  mkdirSync(path.dirname(floor), { recursive: true });
  writeFileSync(floor, "require('@google-cloud/functions-framework').http('floor', (req, res) => res.status(204).end());\n");
  copyFileSync(path.join(OUT, 'after', 'api', PRELOAD_FILE), path.join(OUT, 'floor', PRELOAD_FILE));
  const floorCached = { NODE_OPTIONS: `--require=${path.join(OUT, 'floor', PRELOAD_FILE)}` };
  const after = (target: DeployedTarget): string => path.join(OUT, 'after', target, ENTRY_FILE);
  const deployedEnv = (target: DeployedTarget): Record<string, string> => ({ NODE_OPTIONS: `--require=${path.join(OUT, 'after', target, PRELOAD_FILE)}` });

  const emulators = await startEmulators({ choice: 'embedded' });
  const site = await startArticleSite();
  const projectId = 'coldstart-bench';
  const setup = new PubSub({ projectId, apiEndpoint: emulators.hosts.pubsub, emulatorMode: true });
  // The recorder re-queues a dead letter whose page was never fetched through the delay topic.
  for (const name of [topology.topic, topology.delayTopic]) await setup.createTopic(name).catch(() => undefined);
  await setup.close();
  const sitePort = new URL(site.origin).port;
  const env = (run: number): Record<string, string> => emulatedFunctionEnv({ projectId, hosts: emulators.hosts, sitePort, collectionPrefix: `coldstart${run}-` });
  const floorWarm = await warmUp(path.join(OUT, 'floor'), 'floor', { env: env(0), request: { path: '/', body: '{}' } });
  if (!floorWarm.ok) throw new Error(`warm-up of the floor failed: ${floorWarm.report}`);
  for (const target of DEPLOYED_TARGETS) {
    const warm = await warmUp(path.join(OUT, 'after', target), target, { env: env(0) });
    if (!warm.ok) throw new Error(`warm-up of ${target} failed: ${warm.report}`);
    progress(`warm-up: ${warm.report}`);
  }
  let article = 0;
  const firstRequest = (target: DeployedTarget): FirstRequest => {
    article += 1;
    const url = site.url('articles', article);
    const canonical = canonicalizeUrl(url);
    if (!canonical.ok) throw new Error(`bench URL ${url} not acceptable`);
    const message = { url, canonicalUrl: canonical.canonicalUrl, urlKey: canonical.urlKey, portfolioId: `bench${article}` };
    switch (target) {
      case 'api':
        return { path: '/portfolios', body: JSON.stringify({ name: 'cold start', urls: [url] }), expectStatus: 202 };
      case 'scrapeArticle':
        return { path: '/', body: pushEnvelope(message), expectStatus: 204 };
      case 'recordDeadLetter':
        return { path: '/', body: pushEnvelope(message, { CloudPubSubDeadLetterSourceDeliveryCount: '5' }), expectStatus: 204 };
    }
  };

  const samples = new Map<string, number[]>();
  const add = (key: string, ms: number): void => void samples.set(key, [...(samples.get(key) ?? []), ms]);
  try {
    for (let round = 0; round < RUNS; round++) {
      add('floor', await coldStart({ source: floor, target: 'floor', env: env(round), request: { path: '/', body: '{}', expectStatus: 204 } }));
      add('floor cached', await coldStart({ source: floor, target: 'floor', env: { ...env(round), ...floorCached }, request: { path: '/', body: '{}', expectStatus: 204 } }));
      for (const target of DEPLOYED_TARGETS) {
        // Rotate which variant goes first, so none always runs on a warmer page cache.
        const variants = ['before', 'after', 'deployed'] as const;
        const order = [...variants.slice(round % 3), ...variants.slice(0, round % 3)];
        for (const variant of order) {
          const source = variant === 'before' ? before : after(target);
          const ms = await coldStart({ source, target, env: { ...env(round), ...(variant === 'deployed' ? deployedEnv(target) : {}) }, request: firstRequest(target) });
          add(`${target} ${variant}`, ms);
          progress(`${target} ${variant} #${round + 1}: ${ms.toFixed(0)} ms`);
        }
      }
    }
  } finally {
    await site.stop();
    await emulators.stop();
  }
  load.push(loadavg()[0] ?? 0);

  const kib = (file: string): string => `${Math.round(statSync(file).size / 1024).toLocaleString('en-US')} KiB`;
  const rows = DEPLOYED_TARGETS.map((target) => {
    const b = samples.get(`${target} before`) ?? [];
    const a = samples.get(`${target} after`) ?? [];
    const d = samples.get(`${target} deployed`) ?? [];
    const spread = (values: number[]): string => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
    return { target, before: median(b), after: median(a), deployed: median(d), spreadBefore: spread(b), spreadAfter: spread(a), spreadDeployed: spread(d), size: kib(after(target)) };
  });
  const met = rows.filter((row) => row.deployed <= GOAL_MS).length;
  const floorMs = samples.get('floor') ?? [];
  const floorCachedMs = samples.get('floor cached') ?? [];
  const markdown = [
    `Spawn → first complete answer of a real request, NODE_ENV=production, functions-framework ${'main.js'}, embedded emulators in the bench process; median (min–max) of ${RUNS} spawns, before and after interleaved in one run. Load average (1 min) at start / end: ${load.map((value) => value.toFixed(1)).join(' / ')} on 2 cores shared with other work.`,
    '',
    '| function (first request) | before: tsc, all three in one module | own esbuild bundle | deployed: bundle + code cache | deployed / before | bundle |',
    '|---|---|---|---|---|---|',
    `| floor: functions-framework, a function that loads nothing | | ${median(floorMs).toFixed(0)} ms (${Math.min(...floorMs).toFixed(0)}–${Math.max(...floorMs).toFixed(0)}) | ${median(floorCachedMs).toFixed(0)} ms (${Math.min(...floorCachedMs).toFixed(0)}–${Math.max(...floorCachedMs).toFixed(0)}) | | |`,
    ...rows.map(
      (row) =>
        `| ${row.target} (${row.target === 'api' ? 'POST /portfolios, 1 URL' : row.target === 'scrapeArticle' ? 'push: fetch, extract, store' : 'push: record dead letter'}) | ${row.before.toFixed(0)} ms (${row.spreadBefore}) | ${row.after.toFixed(0)} ms (${row.spreadAfter}) | ${row.deployed.toFixed(0)} ms (${row.spreadDeployed}) | ${(row.deployed / row.before).toFixed(2)}× | ${row.size} |`,
    ),
    '',
    ...rows.map(
      (row) =>
        `- ${row.target}: cold start ${(row.deployed / row.before).toFixed(2)}× of before (${row.before.toFixed(0)} → ${row.deployed.toFixed(0)} ms; the bundle alone ${row.after.toFixed(0)} ms, the code cache ${(row.deployed / row.after).toFixed(2)}× of it; goal ≤ ${GOAL_MS} ms: ${row.deployed <= GOAL_MS ? 'met' : 'not met'}).`,
    ),
    `- ${met} of ${rows.length} functions within ${GOAL_MS} ms in this run.`,
  ].join('\n');
  return { title: 'Cold start', command: 'npx tsx bench/coldstart.ts', markdown };
}

if (require.main === module) {
  run().then(
    (section) => console.log(section.markdown),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
