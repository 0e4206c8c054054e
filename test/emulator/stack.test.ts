import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { forEachLane } from '../helpers/lanes';

interface PortfolioStatus {
  counts: { queued: number; done: number; failed: number };
  articles: Array<{ url: string; status: string; title?: string | null; attempts?: number; error?: { code: string } }>;
}

async function waitForTerminal(stack: LocalStack, statusUrl: string, timeoutMs: number): Promise<PortfolioStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(new URL(statusUrl, stack.apiUrl));
    const status = (await response.json()) as PortfolioStatus;
    if (status.counts.queued === 0) return status;
    if (Date.now() > deadline) throw new Error(`still queued after ${timeoutMs} ms: ${JSON.stringify(status.counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

forEachLane('local stack with the demo site', (lane) => {
  let stack: LocalStack;

  before(async function () {
    this.timeout(60_000);
    stack = await startLocalStack({
      running: lane.emulators(),
      apiPort: 0,
      demo: true,
      backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      deps: { log: () => undefined },
    });
  });

  after(async function () {
    this.timeout(30_000);
    await stack?.stop();
  });

  it('takes the demo portfolio from 202 to every URL terminal, with the right outcome for each', async function () {
    this.timeout(90_000);
    const urls = stack.demo!.urls;
    const response = await fetch(`${stack.apiUrl}/portfolios`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'demo', urls }),
    });
    assert.equal(response.status, 202);
    const accepted = (await response.json()) as { portfolioId: string; accepted: number; statusUrl: string };
    assert.equal(accepted.accepted, urls.length);

    const status = await waitForTerminal(stack, accepted.statusUrl, 80_000);
    const byPath = new Map(status.articles.map((article) => [new URL(article.url).pathname, article]));
    assert.equal(status.counts.done + status.counts.failed, urls.length);
    assert.equal(byPath.get('/articles/1')?.status, 'done');
    assert.equal(byPath.get('/articles/1')?.title, 'Designing idempotent message handlers');
    assert.equal(byPath.get('/broken')?.status, 'failed');
    assert.equal(byPath.get('/broken')?.error?.code, 'http-404');
    assert.equal(byPath.get('/flaky')?.status, 'done');
    assert.equal(byPath.get('/flaky')?.attempts, 3);
    assert.equal(byPath.get('/always-500')?.status, 'failed');
    assert.equal(byPath.get('/always-500')?.error?.code, 'dead-lettered');
  });
});

describe('npm start', () => {
  it('serves the API, prints a curl line, and stops everything on Ctrl-C', async function () {
    this.timeout(60_000);
    const child = spawn(process.execPath, ['--import', 'tsx', 'emulator/cli.ts', 'stack', '--port', '0'], {
      env: { ...process.env, EMULATORS: 'embedded' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 45_000;
      while (!/Ctrl-C stops everything/.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`stack did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const apiUrl = /API\s+(http:\/\/\S+)/.exec(output)?.[1];
      assert.ok(apiUrl, output);
      assert.match(output, /curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/portfolios/);
      const health = await fetch(`${apiUrl}/healthz`);
      assert.equal(health.status, 200);
      await health.arrayBuffer();
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      await assert.rejects(fetch(`${apiUrl}/healthz`), 'the API must be gone after Ctrl-C');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
