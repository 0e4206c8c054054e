import { readFileSync } from 'node:fs';
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

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** First port of the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range). */
function ephemeralRangeStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 1024 ? start : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A free loopback port for a service that must come back on the same port after a restart. It is
 * taken below the ephemeral range: a port from that range, once freed, may be handed to some
 * outgoing connection and block the restart. Falls back to any free port.
 */
export async function freeServicePort(): Promise<number> {
  const high = ephemeralRangeStart();
  const low = Math.max(1025, high - 12_000);
  for (let tries = 0; tries < 20; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  return freeLoopbackPort();
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
