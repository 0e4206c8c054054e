/**
 * Connections that go only where the guard looked. `fetchPage` resolves a host name itself, checks every
 * address, and pins the checked addresses for that host before it sends the request; the agent's
 * connector then connects to a pinned address (never resolving the name again), keeping the name for TLS
 * (SNI and certificate check) and the Host header. A host with no pin is never connected to, so a bug
 * elsewhere fails closed. This closes the DNS-rebinding gap between "check" and "connect".
 *
 * Pins are per agent and reference-counted: concurrent fetches of one host may each add the addresses
 * they checked; a pooled keep-alive socket was connected to an address some fetch checked.
 */
import { Agent, buildConnector } from 'undici';
import { isIP } from 'node:net';

/** Connects to an address (`options.hostname` is always an IP here); undici's connector signature. */
export type Connector = buildConnector.connector;

/** Raised by the connector when the connect timeout passes (undici's own code, so mapping is uniform). */
class ConnectTimeout extends Error {
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
}

/** Raised when asked to connect to a host nobody pinned; a programming error, refused. */
class UnpinnedHost extends Error {
  readonly code = 'ERR_UNPINNED_HOST';
}

export interface PinningAgentOptions {
  connectTimeoutMs: number;
  /** Opens the socket to an already-checked IP; defaults to undici's TCP/TLS connector. */
  connector?: Connector;
}

/** An undici Agent plus the table of checked addresses its connector may use. */
export class PinningAgent {
  readonly agent: Agent;
  private readonly pins = new Map<string, { addresses: string[]; refs: number }>();

  constructor(options: PinningAgentOptions) {
    const base = options.connector ?? buildConnector({ timeout: options.connectTimeoutMs });
    const timeoutMs = options.connectTimeoutMs;
    this.agent = new Agent({
      // Fewer idle sockets kept: a scraper rarely fetches the same host twice within seconds.
      keepAliveTimeout: 4_000,
      connect: (connectOptions, callback) => this.connect(base, timeoutMs, connectOptions, callback),
    });
  }

  /** Allows connections to `hostname` to go to `addresses` until the returned release is called. */
  pin(hostname: string, addresses: string[]): () => void {
    const key = hostname.replace(/^\[|\]$/g, '');
    const entry = this.pins.get(key) ?? { addresses: [], refs: 0 };
    for (const address of addresses) if (!entry.addresses.includes(address)) entry.addresses.push(address);
    entry.refs += 1;
    this.pins.set(key, entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.refs -= 1;
      if (entry.refs === 0 && this.pins.get(key) === entry) this.pins.delete(key);
    };
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private connect(base: Connector, timeoutMs: number, options: buildConnector.Options, callback: buildConnector.Callback): void {
    const addresses = this.pins.get(options.hostname)?.addresses.slice() ?? [];
    if (addresses.length === 0) {
      callback(new UnpinnedHost(`no checked address for ${options.hostname}; refusing to connect`), null);
      return;
    }
    const name = options.hostname.replace(/\.$/, '');
    // SNI and the certificate check use the name the user asked for; IP literals send no SNI.
    const servername = options.protocol === 'https:' && isIP(name) === 0 ? name : undefined;
    const attempt = (index: number, lastError: Error | null): void => {
      const address = addresses[index];
      if (address === undefined) {
        callback(lastError ?? new Error('no address to connect to'), null);
        return;
      }
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        callback(new ConnectTimeout(`connecting to ${options.hostname} (${address}) took longer than ${timeoutMs} ms`), null);
      }, timeoutMs);
      base({ ...options, hostname: address, servername }, (error, socket) => {
        if (settled) {
          socket?.destroy();
          return;
        }
        settled = true;
        clearTimeout(timer);
        // A refused or unreachable address may have a sibling that works (IPv6 without a route, say).
        if (error) attempt(index + 1, error);
        else callback(null, socket);
      });
    };
    attempt(0, null);
  }
}
