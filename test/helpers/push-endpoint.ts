import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a push endpoint received. */
export interface PushRequestRecord {
  /** Milliseconds since the endpoint started. */
  at: number;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (the push envelope), or the raw text when it is not JSON. */
  body: unknown;
  /** Resolves when the sender closes the connection before an answer (only for `'hang'`). */
  abandoned: Promise<void>;
}

/** Answers a push with a status, or `'hang'` to never answer (the delivery then hits its ack deadline). */
export type PushResponder = (request: PushRequestRecord, index: number) => number | 'hang';

/** A loopback HTTP server standing in for a push subscriber. */
export interface PushEndpoint {
  url: string;
  requests: PushRequestRecord[];
  /** Resolves once `count` requests have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<PushRequestRecord[]>;
  close(): Promise<void>;
}

/** Starts a push endpoint on 127.0.0.1 answering each request with `respond` (204 by default). */
export async function startPushEndpoint(respond: PushResponder = () => 204): Promise<PushEndpoint> {
  const started = Date.now();
  const requests: PushRequestRecord[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text (unwrapped push)
      }
      let abandon = (): void => {};
      const abandoned = new Promise<void>((resolve) => (abandon = resolve));
      const record: PushRequestRecord = { at: Date.now() - started, headers: req.headers, body, abandoned };
      requests.push(record);
      const answer = respond(record, requests.length - 1);
      for (const wake of waiters) wake();
      if (answer === 'hang') {
        res.on('close', abandon);
        return;
      }
      res.statusCode = answer;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/push`,
    requests,
    waitFor: (count, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (requests.length < count) return;
          cleanup();
          resolve(requests.slice(0, count));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`push endpoint got ${requests.length} of ${count} expected requests in ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Push endpoints started by one suite, closed together in its `after` hook. */
export function pushEndpoints(): { start: typeof startPushEndpoint; closeAll(): Promise<void> } {
  const started: PushEndpoint[] = [];
  return {
    start: async (respond) => {
      const endpoint = await startPushEndpoint(respond);
      started.push(endpoint);
      return endpoint;
    },
    closeAll: async () => {
      await Promise.all(started.splice(0).map((endpoint) => endpoint.close()));
    },
  };
}
