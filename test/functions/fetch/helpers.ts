/**
 * Loopback sites and a fenced network for fetcher tests. Nothing here ever opens a socket to anything
 * but 127.0.0.1: the connector connects "public" test addresses to loopback servers and refuses (and
 * records) every other address, so a broken guard fails a test instead of sending a packet.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { buildConnector } from 'undici';
import type { Connector, Resolver } from '../../../functions/src/fetch';

/** A real HTTP server on 127.0.0.1 for one test file. */
export interface Site {
  port: number;
  /** http://127.0.0.1:PORT + path */
  url(path: string): string;
  /** Requests seen, newest last. */
  requests: http.IncomingMessage[];
  close(): Promise<void>;
}

export async function startSite(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Site> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Addresses that the guard treats as public; the fenced connector routes them to loopback sites. */
export const PUBLIC_V4 = '93.184.215.14';
export const PUBLIC_V4_B = '198.41.0.4';
export const PUBLIC_V6 = '2606:2800:21f:cb07:6820:80ad:f8c9:1946';

/** A connector that only ever reaches loopback, plus a record of every attempt. */
export interface Fence {
  connector: Connector;
  /** `address:port` of every connection asked for (after pinning, so always an IP). */
  attempts: string[];
  /** Addresses that were neither loopback nor routed: each one is a guard failure. */
  violations: string[];
  /** Routes connections for `address` (any port) to the loopback site on `port`. */
  route(address: string, port: number): void;
}

/**
 * The fenced connector. Plain http is connected here; https (only when `tls.ca` is given) goes through
 * undici's own TLS connector, so certificate and server-name checks are the production ones, but
 * always to 127.0.0.1.
 */
export function fence(tls?: { ca: string }): Fence {
  const routes = new Map<string, number>();
  const attempts: string[] = [];
  const violations: string[] = [];
  const tlsConnector = tls ? buildConnector({ ca: [tls.ca], timeout: 2_000 }) : null;
  const connector: Connector = (options, callback) => {
    const address = options.hostname;
    // undici passes '' for the scheme's default port.
    const port = options.port === '' ? (options.protocol === 'https:' ? 443 : 80) : Number(options.port);
    attempts.push(`${address}:${port}`);
    const routed = routes.get(address);
    const loopback = address === '127.0.0.1' || address === '::1';
    if (routed === undefined && !loopback) {
      violations.push(address);
      callback(new Error(`test fence: refused a connection to non-loopback ${address}`), null);
      return;
    }
    if (options.protocol === 'https:' && tlsConnector) {
      tlsConnector({ ...options, hostname: '127.0.0.1', port: String(routed ?? port) }, callback);
      return;
    }
    if (options.protocol !== 'http:') {
      callback(new Error(`test fence: only plain http is served in tests (asked for ${options.protocol}//${address}, servername ${options.servername ?? '-'})`), null);
      return;
    }
    const socket = net.connect({ host: '127.0.0.1', port: routed ?? port });
    let answered = false;
    socket.once('connect', () => {
      if (!answered) callback(null, socket);
      answered = true;
    });
    socket.once('error', (error) => {
      if (!answered) callback(error, null);
      answered = true;
    });
  };
  return { connector, attempts, violations, route: (address, port) => routes.set(address, port) };
}

/** A resolver answering from a table; unknown names fail like NXDOMAIN. Records every lookup. */
export function tableResolver(table: Record<string, string[]>): Resolver & { lookups: string[] } {
  const lookups: string[] = [];
  const resolver = async (hostname: string): Promise<string[]> => {
    lookups.push(hostname);
    const found = table[hostname.replace(/\.$/, '')];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found;
  };
  return Object.assign(resolver, { lookups });
}
