/**
 * The build-time warm-up (`node warmup.js <target>`, the deployed archive's `gcp-build` script, which
 * Cloud Build runs after `npm ci` with the Node.js the function will run on): starts the function
 * under functions-framework as an instance starts, with the compile cache recording, sends it one
 * request that needs no backend, and stops it, so the cache holds the code a cold start runs.
 *
 * It never fails the build: without a cache an instance only starts slower.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { ENTRY_FILE, PRELOAD_FILE } from './files';

/** A request each function answers without Firestore or Pub/Sub, through the code its real requests run. */
export const WARMUP_REQUESTS: Record<string, { path: string; body: string }> = {
  // 400 no-urls: routing, body parsing, validation and the JSON error answer.
  api: { path: '/portfolios', body: '{"urls":[]}' },
  // A push body without a message: decoded, found malformed, acknowledged.
  scrapeArticle: { path: '/', body: '{}' },
  recordDeadLetter: { path: '/', body: '{}' },
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function post(port: number, to: { path: string; body: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: to.path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(to.body);
  });
}

/**
 * Runs the warm-up of `target` in `appDir` (which holds the bundle, the preload and, here or above, node_modules)
 * and resolves with the preload's report, or with the reason it could not.
 */
export async function warmUp(
  appDir: string,
  target: string,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; request?: { path: string; body: string } } = {},
): Promise<{ ok: boolean; report: string }> {
  const warmupRequest = opts.request ?? WARMUP_REQUESTS[target];
  if (warmupRequest === undefined) return { ok: false, report: `no warm-up request for ${target}` };
  let frameworkMain: string;
  try {
    // The package exports only its index; its binary (`functions-framework`) is main.js beside it.
    frameworkMain = path.join(path.dirname(require.resolve('@google-cloud/functions-framework', { paths: [appDir] })), 'main.js');
  } catch {
    return { ok: false, report: 'functions-framework is not installed beside the function' };
  }
  const port = await freePort();
  const child = spawn(process.execPath, ['--require', path.join(appDir, PRELOAD_FILE), frameworkMain, `--target=${target}`, `--source=${path.join(appDir, ENTRY_FILE)}`, `--port=${port}`, '--signature-type=http'], {
    cwd: appDir,
    env: { ...(opts.env ?? process.env), NODE_ENV: 'production', PORT: String(port), COMPILE_CACHE: 'write' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString()}`.slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let status = 0;
  try {
    for (;;) {
      try {
        status = await post(port, warmupRequest);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline || child.exitCode !== null) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    return { ok: false, report: `${target} did not answer its warm-up request (${String(error)}): ${stderr.trim()}` };
  }
  child.kill('SIGTERM');
  const code = await exited;
  const report = stderr.trim().split('\n').filter((line) => line.startsWith('{"compileCache"')).pop();
  if (code !== 0 || report === undefined) return { ok: false, report: `${target} exited ${code} without writing its cache: ${stderr.trim()}` };
  return { ok: true, report: `${target} answered its warm-up request ${status}; ${report}` };
}

if (require.main === module) {
  const target = process.argv[2] ?? '';
  warmUp(__dirname, target).then(
    ({ ok, report }) => console.log(ok ? `compile cache written: ${report}` : `compile cache not written (cold starts compile from source): ${report}`),
    (error: unknown) => console.log(`compile cache not written: ${String(error)}`),
  );
}
