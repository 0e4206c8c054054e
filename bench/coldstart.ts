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
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { bundleFunctions, DEPLOYED_TARGETS, type DeployedTarget } from '../build/bundle';
import { ENTRY_FILE, PRELOAD_FILE } from '../functions/src/coldstart/files';
import { warmUp } from '../functions/src/coldstart/warmup';
import { startEmulators } from '../emulator';
import { topology } from '../functions/src/topology';
import { canonicalizeUrl } from '../functions/src/urls';
import { startArticleSite } from '../test/helpers/articleSite';
import { coldStart, emulatedFunctionEnv, type ColdStartTiming, type FirstRequest } from '../test/helpers/coldStart';
import type { BenchSection } from './types';
import { median } from './stats';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, '.build', 'coldstart');
const RUNS = 5;
const GOAL_MS = 300;
const VARIANTS = ['before', 'after', 'deployed'] as const;
/** A deployed cold start, phase by phase (bench/coldstartPhases.cjs notes the moments). */
const PHASES = ['node', 'framework', 'bundle', 'listen', 'firstRequest', 'total'] as const;
const PHASES_PRELOAD = path.join(__dirname, 'coldstartPhases.cjs');

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

  const samples = new Map<string, ColdStartTiming[]>();
  const phases = new Map<string, Record<(typeof PHASES)[number], number>[]>();
  const add = (key: string, timing: ColdStartTiming): void => void samples.set(key, [...(samples.get(key) ?? []), timing]);
  try {
    for (let round = 0; round < RUNS; round++) {
      add('floor', await coldStart({ source: floor, target: 'floor', env: env(round), request: { path: '/', body: '{}', expectStatus: 204 } }));
      add('floor deployed', await coldStart({ source: floor, target: 'floor', env: { ...env(round), ...floorCached }, request: { path: '/', body: '{}', expectStatus: 204 } }));
      for (const target of DEPLOYED_TARGETS) {
        // Rotate which variant goes first, so none always runs on a warmer page cache.
        const order = [...VARIANTS.slice(round % 3), ...VARIANTS.slice(0, round % 3)];
        for (const variant of order) {
          const source = variant === 'before' ? before : after(target);
          const timing = await coldStart({ source, target, env: { ...env(round), ...(variant === 'deployed' ? deployedEnv(target) : {}) }, request: firstRequest(target) });
          add(`${target} ${variant}`, timing);
          progress(`${target} ${variant} #${round + 1}: ${timing.ms.toFixed(0)} ms (CPU ${timing.cpuMs.toFixed(0)} ms)`);
        }
      }
    }
    // Where a deployed cold start's time goes: the same spawns with the phases preload after the cache.
    for (let round = 0; round < RUNS; round++) {
      for (const target of DEPLOYED_TARGETS) {
        const out = path.join(OUT, `phases-${target}-${round}.json`);
        const timing = await coldStart({
          source: after(target),
          target,
          env: { ...env(round), PHASES_OUT: out, NODE_OPTIONS: `${deployedEnv(target).NODE_OPTIONS} --require=${PHASES_PRELOAD}` },
          request: firstRequest(target),
        });
        const noted = JSON.parse(readFileSync(out, 'utf8')) as { preload: number; bundleStart: number; bundleEnd: number; listen: number; request: number };
        phases.set(target, [
          ...(phases.get(target) ?? []),
          {
            node: noted.preload,
            framework: noted.bundleStart - noted.preload,
            bundle: noted.bundleEnd - noted.bundleStart,
            listen: noted.request - noted.bundleEnd,
            firstRequest: timing.ms - noted.request,
            total: timing.ms,
          },
        ]);
      }
    }
  } finally {
    await site.stop();
    await emulators.stop();
  }
  load.push(loadavg()[0] ?? 0);

  const kib = (file: string): string => `${Math.round(statSync(file).size / 1024).toLocaleString('en-US')} KiB`;
  /** Median wall time (min–max), then the median CPU time of the instance, of one variant. */
  const summary = (key: string): { ms: number; cpuMs: number; cell: string } => {
    const timings = samples.get(key) ?? [];
    const ms = median(timings.map((timing) => timing.ms));
    const cpuMs = median(timings.map((timing) => timing.cpuMs));
    const walls = timings.map((timing) => timing.ms);
    return { ms, cpuMs, cell: `${ms.toFixed(0)} ms (${Math.min(...walls).toFixed(0)}–${Math.max(...walls).toFixed(0)}); CPU ${cpuMs.toFixed(0)} ms` };
  };
  const rows = DEPLOYED_TARGETS.map((target) => {
    const [b, a, d] = VARIANTS.map((variant) => summary(`${target} ${variant}`)) as [ReturnType<typeof summary>, ReturnType<typeof summary>, ReturnType<typeof summary>];
    return { target, before: b, after: a, deployed: d, size: kib(after(target)) };
  });
  const met = rows.filter((row) => row.deployed.ms <= GOAL_MS).length;
  const floorRow = { plain: summary('floor'), deployed: summary('floor deployed') };
  const markdown = [
    `Spawn → first complete answer of a real request, NODE_ENV=production, functions-framework main.js, embedded emulators in the bench process; median (min–max) wall time of ${RUNS} spawns, and the median CPU time (user + system) the instance had used by then, read from /proc: CPU hardly depends on the machine's load, wall time does. The three variants interleaved in one run. Load average (1 min) at start / end: ${load.map((value) => value.toFixed(1)).join(' / ')} on 2 cores shared with other work.`,
    '',
    '| function (first request) | before: tsc, all three in one module | own esbuild bundle | deployed: bundle + code cache | deployed / before (wall; CPU) | bundle |',
    '|---|---|---|---|---|---|',
    `| floor: functions-framework, a function that loads nothing | | ${floorRow.plain.cell} | ${floorRow.deployed.cell} | | |`,
    ...rows.map(
      (row) =>
        `| ${row.target} (${row.target === 'api' ? 'POST /portfolios, 1 URL' : row.target === 'scrapeArticle' ? 'push: fetch, extract, store' : 'push: record dead letter'}) | ${row.before.cell} | ${row.after.cell} | ${row.deployed.cell} | ${(row.deployed.ms / row.before.ms).toFixed(2)}×; ${(row.deployed.cpuMs / row.before.cpuMs).toFixed(2)}× | ${row.size} |`,
    ),
    '',
    ...rows.map(
      (row) =>
        `- ${row.target}: cold start ${(row.deployed.ms / row.before.ms).toFixed(2)}× of before (${row.before.ms.toFixed(0)} → ${row.deployed.ms.toFixed(0)} ms; CPU ${row.before.cpuMs.toFixed(0)} → ${row.deployed.cpuMs.toFixed(0)} ms; the code cache ${(row.deployed.cpuMs / row.after.cpuMs).toFixed(2)}× of the bundle's CPU; goal ≤ ${GOAL_MS} ms: ${row.deployed.ms <= GOAL_MS ? 'met' : 'not met'}).`,
    ),
    `- ${met} of ${rows.length} functions within ${GOAL_MS} ms in this run; the floor, functions-framework alone, ${floorRow.deployed.ms.toFixed(0)} ms with the cache (CPU ${floorRow.deployed.cpuMs.toFixed(0)} ms).`,
    '',
    `Where a deployed cold start's time goes (median of ${RUNS} more spawns each, wall ms): Node.js starting until the preload runs; functions-framework loading (with express) until it asks for the bundle; the bundle loading (its clients are made, not yet connected); until the first request arrives (the server listens, the request is sent); the first request, from its arrival to the end of its answer (the clients' first RPCs: each builds its protobuf reflection and connects).`,
    '',
    '| function | Node.js start | functions-framework | bundle | listen + request sent | first request | total |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...DEPLOYED_TARGETS.map((target) => `| ${target} | ${PHASES.map((phase) => `${median((phases.get(target) ?? []).map((row) => row[phase])).toFixed(0)} ms`).join(' | ')} |`),
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
