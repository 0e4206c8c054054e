import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { EXIT, main } from '../../../functions/src/cli/scrape';
import { fence, startSite, type Fence, type Site } from '../fetch/helpers';

const ARTICLE = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Rivers of the North | Field Notes</title>
<meta property="article:published_time" content="2026-02-03T08:00:00Z">
</head><body><article><h1>Rivers of the North</h1>
<p>${'The rivers run cold and clear through the valleys in spring. '.repeat(30)}</p>
<h2>Source</h2><p>${'Snowmelt feeds them from the high plateaus. '.repeat(30)}</p>
</article></body></html>`;

describe('scrape CLI', () => {
  let site: Site;
  let net: Fence;
  before(async () => {
    site = await startSite((req, res) => {
      if (req.url === '/article') res.writeHead(200, { 'content-type': 'text/html' }).end(ARTICLE);
      else if (req.url === '/busy') res.writeHead(503, { 'retry-after': '30' }).end();
      else res.writeHead(404).end();
    });
  });
  after(() => site.close());
  beforeEach(() => {
    net = fence();
  });
  afterEach(() => assert.deepEqual(net.violations, []));

  async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { env: {}, out: (line) => out.push(line), err: (line) => err.push(line), fetchOptions: { connector: net.connector } });
    return { code, out, err };
  }

  it('prints the article extracted from a page on loopback with --allow-private', async () => {
    const { code, out, err } = await run([site.url('/article'), '--allow-private']);
    assert.equal(code, EXIT.ok);
    const article = JSON.parse(out.join('\n')) as { title: string; publishedAt: string; outline: string[] };
    assert.equal(article.title, 'Rivers of the North');
    assert.match(article.publishedAt, /^2026-02-03T08:00/);
    assert.deepEqual(article.outline, ['Source']);
    assert.match(err.join('\n'), /HTTP 200/);
  });

  it('refuses loopback without --allow-private and exits 2', async () => {
    const { code, out, err } = await run([site.url('/article')]);
    assert.equal(code, EXIT.permanent);
    const { error } = JSON.parse(out.join('')) as { error: { code: string; retryable: boolean; message: string } };
    assert.equal(error.code, 'blocked-address');
    assert.match(error.message, /loopback/);
    assert.equal(error.retryable, false);
    assert.match(err.join('\n'), /add --allow-private/);
    assert.deepEqual(net.attempts, []);
  });

  it('exits 2 for a permanent failure and 3 for a transient one', async () => {
    const missing = await run([site.url('/missing'), '--allow-private']);
    assert.equal(missing.code, EXIT.permanent);
    assert.equal((JSON.parse(missing.out.join('')) as { error: { code: string } }).error.code, 'http-404');
    const busy = await run([site.url('/busy'), '--allow-private']);
    assert.equal(busy.code, EXIT.transient);
    assert.deepEqual(JSON.parse(busy.out.join('')), {
      error: { code: 'http-503', message: (JSON.parse(busy.out.join('')) as { error: { message: string } }).error.message, retryable: true, retryAfterMs: 30_000 },
    });
  });

  it('explains its usage', async () => {
    const { code, out } = await run([]);
    assert.equal(code, EXIT.usage);
    assert.match(out.join(''), /usage: npm run scrape -- <url>/);
    assert.equal((await run(['--fast', site.url('/article')])).code, EXIT.usage);
  });

  it('runs as a command: blocked metadata address, exit code 2, nothing connected', async () => {
    const script = path.join(__dirname, '../../../functions/src/cli/scrape.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'http://169.254.169.254/computeMetadata/v1/'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, EXIT.permanent);
    assert.equal((JSON.parse(stdout) as { error: { code: string } }).error.code, 'blocked-address');
  });
});
