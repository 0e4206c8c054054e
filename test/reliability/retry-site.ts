/**
 * A loopback site for the retry tests: each path answers from a script (a status, a Retry-After, or
 * an article), and the site keeps when every request to a path arrived.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One answer of a path. */
export type Answer = { status: 200 } | { status: number; retryAfter?: string };

/** A running retry site. */
export interface RetrySite {
  origin: string;
  /** e.g. `http://127.0.0.1:PORT/path` */
  url(path: string): string;
  /** Answers of `path` in order; the last one repeats. Default: an article. */
  script(path: string, ...answers: Answer[]): void;
  /** Arrival times (epoch ms) of the requests to `path`. */
  requests(path: string): number[];
  /** Requests to every path together. */
  total(): number;
  stop(): Promise<void>;
}

function article(path: string): string {
  const words = Array.from({ length: 300 }, (_, index) => ['tide', 'harbour', 'signal', 'copper'][index % 4]).join(' ');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Page ${path}</title></head><body><article><h1>Page ${path}</h1><p>${words}.</p></article></body></html>`;
}

/** Starts a site on a free loopback port; `latencyMs` delays every answer. */
export async function startRetrySite(options: { latencyMs?: number } = {}): Promise<RetrySite> {
  const scripts = new Map<string, Answer[]>();
  const arrivals = new Map<string, number[]>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const seen = arrivals.get(path) ?? [];
    seen.push(Date.now());
    arrivals.set(path, seen);
    const script = scripts.get(path) ?? [];
    const answer: Answer = (script.length > 1 ? script.shift() : script[0]) ?? { status: 200 };
    const respond = (): void => {
      if (answer.status === 200) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(article(path));
        return;
      }
      const retryAfter = 'retryAfter' in answer ? answer.retryAfter : undefined;
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...(retryAfter === undefined ? {} : { 'retry-after': retryAfter }) }).end('not now');
    };
    if (!options.latencyMs) return respond();
    const timer = setTimeout(() => {
      timers.delete(timer);
      respond();
    }, options.latencyMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    script: (path, ...answers) => void scripts.set(path, answers),
    requests: (path) => [...(arrivals.get(path) ?? [])],
    total: () => [...arrivals.values()].reduce((sum, list) => sum + list.length, 0),
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
