/**
 * One cold start: spawns functions-framework's own binary on a module, as the Node.js buildpack
 * starts an instance, sends the first request as soon as the port takes connections, and returns
 * the milliseconds from spawn to the end of its answer (and the instance's CPU time by then). The
 * process is killed afterwards, always.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import * as path from 'node:path';
import { freeLoopbackPort } from '../../emulator/ports';

const FRAMEWORK_MAIN = path.resolve(__dirname, '..', '..', 'node_modules', '@google-cloud', 'functions-framework', 'build', 'src', 'main.js');

/** The first request: POSTed as JSON. */
export interface FirstRequest {
  path: string;
  body: string;
  expectStatus: number;
}

function post(port: number, first: FirstRequest): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: first.path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(first.body);
  });
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux on every architecture we run on). */
const USER_HZ = 100;

/**
 * CPU time (user + system, all threads) the process `pid` has used, in ms, from /proc; NaN where
 * there is no /proc. Unlike the wall time, it hardly depends on what else the machine is doing.
 */
function cpuMsOf(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

/** One cold start: wall time from spawn to the end of the first answer, and the CPU the instance used meanwhile. */
export interface ColdStartTiming {
  ms: number;
  cpuMs: number;
}

/** Spawn → answer of `request`. Throws if the function exits, answers another status, or takes over `timeoutMs`. */
export async function coldStart(opts: { source: string; target: string; env: Record<string, string>; request: FirstRequest; timeoutMs?: number }): Promise<ColdStartTiming> {
  const port = await freeLoopbackPort();
  const started = performance.now();
  const child = spawn(process.execPath, [FRAMEWORK_MAIN, `--target=${opts.target}`, `--source=${opts.source}`, `--port=${port}`, '--signature-type=http'], {
    env: { ...opts.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString()}`.slice(-4000)));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`${opts.target} exited (${signal ?? code}) before answering: ${stderr}`))));
  exited.catch(() => undefined);
  const deadline = started + (opts.timeoutMs ?? 30_000);
  try {
    for (;;) {
      try {
        const status = await Promise.race([post(port, opts.request), exited]);
        const ms = performance.now() - started;
        const cpuMs = cpuMsOf(child.pid);
        if (status !== opts.request.expectStatus) throw new Error(`${opts.target} answered ${status}, expected ${opts.request.expectStatus}: ${stderr}`);
        return { ms, cpuMs };
      } catch (error) {
        const refused = (error as NodeJS.ErrnoException).code === 'ECONNREFUSED';
        if (!refused || performance.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
  }
}

/**
 * The whole environment of a deployed function pointed at local emulators and allowed to fetch one
 * loopback site (nothing inherited but PATH, as on Cloud Run nothing is set but what infra/ sets).
 */
export function emulatedFunctionEnv(opts: { projectId: string; hosts: { pubsub: string; firestore: string }; sitePort: string; collectionPrefix: string }): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    GOOGLE_CLOUD_PROJECT: opts.projectId,
    PUBSUB_EMULATOR_HOST: opts.hosts.pubsub,
    FIRESTORE_EMULATOR_HOST: opts.hosts.firestore,
    METADATA_SERVER_DETECTION: 'none',
    ALLOW_PRIVATE_NETWORKS: 'true',
    FETCH_ALLOWED_PORTS: opts.sitePort,
    COLLECTION_PREFIX: opts.collectionPrefix,
  };
}
