import { createServer } from 'node:net';

/** Asks the kernel for a free TCP port on loopback (for child processes that need a port up front). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `http://host/` until it answers (any status), the child gives up, or `timeoutMs` passes.
 * Both official emulators answer `GET /` with "Ok." once they serve requests.
 */
export async function waitForHttp(
  host: string,
  { timeoutMs, failed }: { timeoutMs: number; failed: () => Error | null },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = failed();
    if (failure) throw failure;
    try {
      const response = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`emulator at ${host} not ready after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
