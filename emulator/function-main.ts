/**
 * Entry point of one function service of the local stack, in its own process (see function-process.ts):
 * the production entry (functions/src/index.ts, configured only by the environment through
 * parseConfig) served by functions-framework on a fixed loopback port.
 *
 *   node --import tsx emulator/function-main.ts --target scrapeArticle --port 8090 [--instances 4]
 *
 * With `--instances N` (N > 1) this process is a node:cluster primary and N workers share the port,
 * as Cloud Run spreads requests over the instances of one service. The process that started it is
 * watched through the IPC channel: when it goes away, however it died, everything here exits.
 */
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { getTestServer } from '@google-cloud/functions-framework/testing';

/** What this process tells its parent over IPC. */
export type FunctionProcessMessage = { kind: 'ready'; pids: number[] } | { kind: 'failed'; message: string };

const targets = ['api', 'scrapeArticle', 'recordDeadLetter'] as const;

function readArgs(): { target: (typeof targets)[number]; port: number; instances: number } {
  const { values } = parseArgs({ options: { target: { type: 'string' }, port: { type: 'string' }, instances: { type: 'string' } } });
  const target = targets.find((name) => name === values.target);
  if (target === undefined) throw new Error(`--target: expected one of ${targets.join(', ')}, got "${values.target}"`);
  const port = Number(values.port);
  if (!(Number.isInteger(port) && port > 0 && port <= 65535)) throw new Error(`--port: expected 1–65535, got "${values.port}"`);
  const instances = Number(values.instances ?? '1');
  if (!(Number.isInteger(instances) && instances >= 1 && instances <= 64)) throw new Error(`--instances: expected 1–64, got "${values.instances}"`);
  return { target, port, instances };
}

function tell(message: FunctionProcessMessage): void {
  process.send?.(message);
}

async function serve(target: string, port: number): Promise<Server> {
  // Registers api, scrapeArticle and recordDeadLetter exactly as a deployed instance does.
  await import('../functions/src/index.js');
  const server = getTestServer(target);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/** A stop that takes no more requests, lets those in flight finish (briefly), then exits; once only. */
function gracefulExit(server: Server): () => void {
  let stopping = false;
  return () => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2_000).unref();
  };
}

/** Exits gracefully on SIGTERM or SIGINT, and at once when the parent goes away. */
function shutdownOn(server: Server): void {
  const stop = gracefulExit(server);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The parent went away (even by SIGKILL): nobody will stop us, so stop now.
  process.once('disconnect', () => process.exit(0));
}

async function single(target: string, port: number): Promise<void> {
  const server = await serve(target, port);
  shutdownOn(server);
  tell({ kind: 'ready', pids: [process.pid] });
}

function primary(instances: number): void {
  let stopping = false;
  const workers = new Set<number>();
  let listening = 0;
  const fork = (): void => {
    const worker = cluster.fork();
    worker.once('listening', () => {
      listening += 1;
      if (worker.process.pid !== undefined) workers.add(worker.process.pid);
      if (listening === instances) tell({ kind: 'ready', pids: [process.pid, ...workers] });
    });
    worker.once('exit', (code, signal) => {
      if (worker.process.pid !== undefined) workers.delete(worker.process.pid);
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
        return;
      }
      if (listening < instances) {
        tell({ kind: 'failed', message: `an instance exited before serving (code ${code}, signal ${signal})` });
        process.exit(1);
      }
      // A crashed instance is replaced, as Cloud Run replaces one; the service stays up.
      fork();
    });
  };
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    setTimeout(() => process.exit(0), 3_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Workers exit by themselves when their primary's IPC channel closes (node:cluster does that).
  process.once('disconnect', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    process.exit(0);
  });
  for (let index = 0; index < instances; index++) fork();
}

async function main(): Promise<void> {
  const { target, port, instances } = readArgs();
  if (cluster.isPrimary && instances > 1) {
    primary(instances);
    return;
  }
  if (cluster.isPrimary) {
    await single(target, port);
    return;
  }
  // A cluster worker: serve on the shared port; the primary reports readiness.
  // Workers exit with their primary (node:cluster), so only its SIGTERM needs handling here.
  process.once('SIGTERM', gracefulExit(await serve(target, port)));
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  tell({ kind: 'failed', message });
  console.error(message);
  process.exit(1);
});
