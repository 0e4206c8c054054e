import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ExtractPool } from '../../../functions/src/isolation/extractPool';
import { PageTooComplex } from '../../../functions/src/isolation/parseBudget';

const SMALL = '<html><head><title>Small</title></head><body><p>A few words of an ordinary article.</p></body></html>';
// Within the parse budget, but a second or more of extraction on any machine.
const SLOW = '<b></b>'.repeat(99_000) + 'word '.repeat(800_000);

async function refusal(promise: Promise<unknown>): Promise<PageTooComplex> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PageTooComplex, String(error));
    return error;
  }
  assert.fail('the page was extracted');
}

describe('ExtractPool', function () {
  this.timeout(60_000);

  it('extracts in a worker thread what extractArticle extracts, and passes the parse budget refusal on', async () => {
    const pool = new ExtractPool({ size: 1, deadlineMs: 20_000, maxHeapMb: 128 });
    try {
      assert.equal((await pool.extract(SMALL, 'https://example.com/a')).title, 'Small');
      assert.equal((await refusal(pool.extract('<b>'.repeat(50_000), 'https://example.com/a'))).bound, 'nesting');
    } finally {
      await pool.close();
    }
  });

  it('terminates a worker past the deadline (page-too-complex, bound time) and serves the next page with a new one', async () => {
    const pool = new ExtractPool({ size: 1, deadlineMs: 50, maxHeapMb: 128 });
    try {
      const slow = await refusal(pool.extract(SLOW, 'https://example.com/slow'));
      assert.equal(slow.bound, 'time');
      assert.equal(slow.code, 'page-too-complex');
      assert.match(slow.message, /took longer than 0\.05 s/);
    } finally {
      await pool.close();
    }
    const roomy = new ExtractPool({ size: 1, deadlineMs: 20_000, maxHeapMb: 128 });
    try {
      assert.equal((await roomy.extract(SMALL, 'https://example.com/a')).title, 'Small');
    } finally {
      await roomy.close();
    }
  });

  it('does not count time the instance was frozen (SIGSTOP) toward the deadline', async function () {
    this.timeout(90_000);
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'frozen-pool.child.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines: string[] = [];
      let seen: () => void = () => undefined;
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        seen();
      });
      const line = (index: number): Promise<string> =>
        new Promise((resolve) => {
          const check = (): void => (lines.length > index ? resolve(lines[index] as string) : undefined);
          seen = check;
          check();
        });
      assert.equal(await line(0), 'extracting');
      // Frozen longer than the 6 s deadline while its worker has a page of a second or more to go.
      child.kill('SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      child.kill('SIGCONT');
      assert.equal(await line(1), 'ok', 'the page was refused as too complex after the freeze');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a page whose tree passes the heap limit (bound memory) and keeps serving', async () => {
    const pool = new ExtractPool({ size: 1, deadlineMs: 30_000, maxHeapMb: 16 });
    try {
      const big = await refusal(pool.extract('<br>'.repeat(99_000) + '<p>x</p>', 'https://example.com/big'));
      assert.equal(big.bound, 'memory');
      assert.equal((await pool.extract(SMALL, 'https://example.com/a')).title, 'Small');
    } finally {
      await pool.close();
    }
  });

  it('serves waiting pages smallest first, so an ordinary page is not stuck behind big ones', async () => {
    const pool = new ExtractPool({ size: 1, deadlineMs: 30_000, maxHeapMb: 128 });
    const order: string[] = [];
    try {
      const first = pool.extract(SLOW, 'https://example.com/1').then(() => order.push('slow 1'));
      const second = pool.extract(SLOW, 'https://example.com/2').then(() => order.push('slow 2'));
      const small = pool.extract(SMALL, 'https://example.com/small').then(() => order.push('small'));
      await Promise.all([first, second, small]);
      assert.deepEqual(order, ['slow 1', 'small', 'slow 2']);
    } finally {
      await pool.close();
    }
  });
});
