import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { processAlive } from '../../emulator/function-process';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import type { LogEntry } from '../../functions/src/log';
import { topology } from '../../functions/src/topology';
import { startArticleSite, type ArticleSite } from '../helpers/articleSite';
import { forEachLane } from '../helpers/lanes';

interface ArticleStatus {
  status: string;
  attempts: number;
}

async function articleStatus(stack: LocalStack, url: string): Promise<ArticleStatus | null> {
  const response = await fetch(`${stack.apiUrl}/articles?url=${encodeURIComponent(url)}`);
  const body = (await response.json()) as ArticleStatus;
  return response.status === 404 ? null : body;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The state letter of /proc/PID/stat (R, S, T = stopped, Z…). */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

async function submit(stack: LocalStack, urls: string[]): Promise<void> {
  const response = await fetch(`${stack.apiUrl}/portfolios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls }) });
  assert.equal(response.status, 202, await response.text());
}

const done = (stack: LocalStack, url: string) => async (): Promise<ArticleStatus | null> => {
  const article = await articleStatus(stack, url);
  return article?.status === 'done' ? article : null;
};

/**
 * True when no socket listens on `port` any more. Read from the kernel's socket tables where there
 * are any: probing by binding races with the kernel handing the freed port to another socket, and
 * probing by connecting can connect a socket to itself (TCP simultaneous open on an ephemeral port).
 */
async function nothingListens(port: number): Promise<boolean> {
  const LISTEN = '0A';
  try {
    const tables = ['/proc/net/tcp', '/proc/net/tcp6'].map((file) => readFileSync(file, 'utf8'));
    return !tables.some((table) =>
      table
        .split('\n')
        .slice(1)
        .some((line) => {
          // "sl local_address rem_address st …", local_address = HEXADDR:HEXPORT
          const [, local, , state] = line.trim().split(/\s+/);
          return state === LISTEN && local !== undefined && parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port;
        }),
    );
  } catch {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
  }
}

forEachLane('local stack with the scraper in its own processes', (lane) => {
  let site: ArticleSite;
  let stack: LocalStack;
  const logs: LogEntry[] = [];

  before(async function () {
    this.timeout(60_000);
    site = await startArticleSite();
    stack = await startLocalStack({
      running: lane.emulators(),
      apiPort: 0,
      functionProcesses: 'scraper',
      scraperInstances: 2,
      // 1–10 s: a message pushed while the scraper is down must not use up its 5 attempts (15 s)
      // before the restart.
      backoff: topology.localBackoff,
      deps: { log: (entry) => logs.push(entry) },
    });
  });

  after(async function () {
    this.timeout(30_000);
    await stack?.stop();
    await site?.stop();
  });

  it('scrapes through the child processes, whose log lines reach the given logger', async function () {
    this.timeout(30_000);
    const pids = stack.scraper.pids();
    assert.equal(pids.length, 3, 'a cluster primary and two instances');
    assert.ok(!pids.includes(process.pid) && pids.every(processAlive));
    const url = site.url('articles', 1);
    await submit(stack, [url]);
    const article = await until('article 1 done', 25_000, done(stack, url));
    assert.equal(article.attempts, 1);
    // The parent serves no scraper: this entry comes from a child's stdout (logged after the write,
    // so it may arrive just after the article reads done).
    await until('the done log line', 5_000, async () =>
      logs.some((entry) => entry.outcome === 'done' && entry.url === url && typeof entry.durationMs === 'number') ? true : null,
    );
    assert.equal(site.hits.get('/articles/1'), 1);
  });

  it('SIGSTOP freezes every process of the service and SIGCONT resumes it', async function () {
    this.timeout(30_000);
    const pids = stack.scraper.pids();
    await stack.scraper.kill('SIGSTOP');
    assert.deepEqual(stack.scraper.pids(), pids, 'a frozen service still has its processes');
    await until('all stopped', 5_000, async () => (pids.every((pid) => processState(pid) === 'T') ? true : null));
    await stack.scraper.kill('SIGCONT');
    await until('all running', 5_000, async () => (pids.every((pid) => processState(pid) !== 'T') ? true : null));
    const url = site.url('articles', 3);
    await submit(stack, [url]);
    await until('article 3 done', 25_000, done(stack, url));
  });

  it('after SIGKILL nothing is scraped; after restart on the same port, deliveries resume', async function () {
    this.timeout(60_000);
    const before = stack.scraper.pids();
    await stack.scraper.kill('SIGKILL');
    assert.deepEqual(stack.scraper.pids(), []);
    assert.ok(before.every((pid) => !processAlive(pid)), 'every process of the service is gone');
    await assert.rejects(fetch(`${stack.scraperUrl}/`, { method: 'POST' }), 'nothing listens on the scraper port');

    const url = site.url('articles', 2);
    await submit(stack, [url]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(await articleStatus(stack, url), null, 'no scraper ran, so no record exists yet');

    await stack.scraper.restart();
    const after = stack.scraper.pids();
    assert.equal(after.length, 3);
    assert.ok(after.every((pid) => !before.includes(pid) && processAlive(pid)));
    const article = await until('article 2 done after the restart', 40_000, done(stack, url));
    assert.ok(article.attempts >= 1);
    assert.equal((await articleStatus(stack, site.url('articles', 1)))?.status, 'done', 'the first article is untouched');
  });

  it('stop() leaves no process and no port behind', async function () {
    this.timeout(30_000);
    const pids = stack.scraper.pids();
    const port = Number(new URL(stack.scraperUrl).port);
    await stack.stop();
    assert.ok(pids.every((pid) => !processAlive(pid)));
    await until(`port ${port} closed`, 5_000, async () => ((await nothingListens(port)) ? true : null));
  });
});

describe('local stack with every function in its own process', () => {
  it('refuses injected fakes a child cannot receive', async () => {
    await assert.rejects(
      startLocalStack({ emulators: 'embedded', apiPort: 0, functionProcesses: 'all', deps: { now: () => new Date(0) } }),
      /deps\.now cannot reach a function in its own process/,
    );
  });

  it('leaves no child behind when its parent is killed', async function () {
    this.timeout(60_000);
    const parent = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'stack-processes.child.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    parent.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    try {
      const line = await until('the stack in the parent', 45_000, async () => /^(\{.*\})$/m.exec(output)?.[1] ?? (parent.exitCode === null ? null : 'exited'));
      const started = JSON.parse(line) as { pids: number[]; ports: number[] };
      assert.equal(started.pids.length, 3);
      assert.ok(started.pids.every(processAlive));
      parent.kill('SIGKILL');
      await exited;
      await until('children gone', 10_000, async () => (started.pids.some(processAlive) ? null : true));
      // The kernel may list a dead process's listening socket for a moment after the process is gone.
      for (const port of started.ports) await until(`port ${port} closed`, 5_000, async () => ((await nothingListens(port)) ? true : null));
    } finally {
      if (parent.exitCode === null) parent.kill('SIGKILL');
    }
  });
});
