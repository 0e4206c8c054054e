/**
 * One function of the local stack as its own service: a child process (function-main.ts) serving it
 * on a fixed loopback port, so it can be killed and restarted while the push subscription keeps
 * pointing at the same URL — as a Cloud Run service keeps its URL while instances come and go.
 *
 * The child receives its configuration only as environment variables (read by parseConfig and the
 * client libraries), never through shared memory. It runs in its own process group so a signal
 * reaches every instance, and it exits when this process goes away (IPC disconnect), when `stop()`
 * is called, and — last line of defence — from an `exit` hook here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { LogEntry, Logger } from '../functions/src/log';
import type { FunctionProcessMessage } from './function-main';
import { killGroupOnExit, signalGroup } from './process-group';

/** The functions of functions/src/index.ts. */
export type FunctionTarget = 'api' | 'scrapeArticle' | 'recordDeadLetter';

/** How to start a function process. */
export interface FunctionProcessOptions {
  target: FunctionTarget;
  /** Loopback port, kept across restarts. */
  port: number;
  /** The whole environment of the child (nothing else is inherited). */
  env: Record<string, string>;
  /** Processes sharing the port (node:cluster), like instances of one Cloud Run service. Default 1. */
  instances?: number;
  /** Receives the child's structured log lines; without it they are copied to this process's stdout. */
  log?: Logger;
  /** How long a start may take (default 30 s). */
  startTimeoutMs?: number;
}

/** A running (or killed) function process. */
export interface FunctionProcess {
  target: FunctionTarget;
  /** `http://127.0.0.1:PORT` — the same before and after a restart. */
  url: string;
  port: number;
  /** Process ids serving now (the cluster primary first, then its workers); empty after a kill. */
  pids(): number[];
  /**
   * Sends `signal` (default SIGTERM) to every process of the service and resolves when all are gone;
   * SIGSTOP / SIGTSTP / SIGCONT freeze or resume it and resolve at once.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the service again on the same port (after a kill or a crash); resolves once it serves. */
  restart(): Promise<void>;
  /** Stops it for good: SIGTERM, then SIGKILL after 3 s. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Signals that stop or continue a process rather than end it. */
const PAUSING_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGSTOP', 'SIGTSTP', 'SIGCONT']);

/** True while `pid` is a running process (a zombie waiting to be reaped counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) STATE …"; Z = exited, not yet reaped.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc here: kill(pid, 0) is the best answer available
  }
}

async function waitUntilGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(processAlive)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

// The child runs the TypeScript sources through tsx, as everything local here does; compiled (dist/), plain node.
const entry = join(__dirname, `function-main${extname(__filename)}`);
const execArgv = extname(__filename) === '.ts' ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];

function forwardLogs(child: ChildProcess, log: Logger | undefined): void {
  if (!child.stdout) return;
  if (log === undefined) {
    child.stdout.pipe(process.stdout, { end: false });
    return;
  }
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  lines.on('line', (line) => {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = undefined;
    }
    if (entry !== null && typeof entry === 'object' && typeof (entry as LogEntry).message === 'string') log(entry as LogEntry);
    else if (line.trim() !== '') process.stderr.write(`${line}\n`);
  });
}

/** Starts the function in its own process on `opts.port`; resolves once every instance serves. */
export async function startFunctionProcess(opts: FunctionProcessOptions): Promise<FunctionProcess> {
  const instances = opts.instances ?? 1;
  let child: ChildProcess | null = null;
  let pids: number[] = [];
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;

  const start = async (): Promise<void> => {
    const started = spawn(process.execPath, [...execArgv, entry, '--target', opts.target, '--port', String(opts.port), '--instances', String(instances)], {
      env: opts.env,
      detached: true, // its own process group: one signal reaches the primary and its workers
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child = started;
    killGroupOnExit(started);
    forwardLogs(started, opts.log);
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
      process.stderr.write(chunk);
    });
    exited = new Promise((resolve) => {
      started.once('exit', () => {
        // Crashed or killed: nothing serves any more (workers follow their primary).
        if (child === started) pids = [];
        resolve();
      });
    });
    const timeoutMs = opts.startTimeoutMs ?? 30_000;
    try {
      pids = await new Promise<number[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${opts.target} did not serve on port ${opts.port} within ${timeoutMs} ms`)), timeoutMs);
        started.on('message', (message: FunctionProcessMessage) => {
          clearTimeout(timer);
          if (message.kind === 'ready') resolve(message.pids);
          else reject(new Error(`${opts.target} failed to start: ${message.message}`));
        });
        started.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${opts.target} exited before serving (code ${code}, signal ${signal}):\n${stderr}`));
        });
      });
    } catch (error) {
      signalGroup(started, 'SIGKILL');
      await exited;
      throw error;
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const current = child;
    if (current === null) return;
    if (PAUSING_SIGNALS.has(signal)) {
      // Freezes or resumes the service (a hung instance, for a test); nothing exits.
      signalGroup(current, signal);
      return;
    }
    const serving = pids;
    pids = [];
    signalGroup(current, signal);
    await exited;
    // Workers leave right after their primary; wait for them too, so the port and memory are free.
    if (!(await waitUntilGone(serving, 3_000))) {
      for (const pid of serving) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await waitUntilGone(serving, 1_000);
    }
    child = null;
  };

  await start();
  return {
    target: opts.target,
    url: `http://127.0.0.1:${opts.port}`,
    port: opts.port,
    pids: () => [...pids],
    kill,
    restart: async () => {
      if (stopped) throw new Error(`${opts.target} was stopped; start a new stack instead.`);
      await kill('SIGKILL');
      await start();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const current = child;
      if (current === null) return;
      const timer = setTimeout(() => signalGroup(current, 'SIGKILL'), 3_000);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
  };
}
