import { connect, type Socket } from 'node:net';

/**
 * A small HTTP/1.1 client for pushes to plain-http endpoints (the local ones: loopback functions,
 * test servers). Each push is one POST on a kept-alive connection and all the emulator reads of the
 * answer is its status, so this does only that: one write per request, a status line and headers
 * parsed by hand, the body (Content-Length, chunked, or up to the close) skipped. Measured against
 * undici's lowest-level dispatch on loopback: a third to a quarter of the CPU per push, which is most
 * of what the emulator spends on a burst. https endpoints, and requests whose headers this would
 * have to validate further, go through undici (push.ts).
 */

/** Largest response head (status line and headers) accepted; a bigger one is a failed push. */
const maxHeadBytes = 64 * 1024;

/** One kept-alive connection and the exchange it is carrying, if any. */
class Connection {
  exchange: Exchange | null = null;
  /** While idle: when it stops being reused (performance.now() ms). */
  idleUntil = 0;

  constructor(
    readonly socket: Socket,
    readonly key: string,
    onClose: (connection: Connection) => void,
  ) {
    // One set of listeners for the connection's life, not one per push.
    socket.on('data', (chunk: Buffer) => {
      // Data on an idle connection is not an answer to anything: the connection is unusable.
      // So is one with bytes after an answer: the server sent something no request asked for.
      if (!this.exchange?.read(chunk)) socket.destroy();
    });
    socket.once('close', () => {
      onClose(this);
      this.exchange?.closed();
    });
    // An error is followed by 'close'; the exchange in progress, if any, sees it there.
    socket.on('error', () => {});
  }
}

/** One connection pool per origin, as an undici Agent keeps one. */
export class Http1Pool {
  private readonly idle = new Map<string, Connection[]>();
  private readonly open = new Set<Connection>();
  /** Closes connections idle past their time; runs only while some are idle, and never holds the process. */
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  /**
   * @param keepAliveMs how long an idle connection is kept for the next push (below Node's default
   *   5 s server keep-alive, so the server does not close a connection we are about to reuse).
   */
  constructor(private readonly keepAliveMs = 4_000) {}

  /**
   * POSTs `body` to `host:port` `path` with `headers` (names lower-case, values already checked by
   * {@link plainHeaders}); calls `done` once with the final status, or 0 when there was none (refused,
   * reset, cancelled, malformed). Returns what cancels the request.
   */
  post(
    hostname: string,
    port: number,
    hostHeader: string,
    path: string,
    headers: Record<string, string>,
    body: string | Buffer,
    done: (status: number) => void,
  ): () => void {
    if (this.closed) {
      queueMicrotask(() => done(0));
      return () => {};
    }
    const key = `${hostname}:${port}`;
    const connection = this.take(key) ?? this.connect(key, hostname, port);
    const exchange = new Exchange((status, reusable, idleMs) => {
      connection.exchange = null;
      if (reusable && !this.closed && !connection.socket.destroyed) this.release(connection, idleMs);
      else connection.socket.destroy();
      done(status);
    });
    connection.exchange = exchange;
    let head = `POST ${path} HTTP/1.1\r\nhost: ${hostHeader}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    const { socket } = connection;
    if (typeof body === 'string') {
      socket.write(`${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    } else {
      socket.cork();
      socket.write(`${head}content-length: ${body.length}\r\n\r\n`, 'latin1');
      if (body.length > 0) socket.write(body);
      socket.uncork();
    }
    return () => exchange.fail();
  }

  /** Destroys every connection; requests in flight end with status 0. */
  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const connection of this.open) connection.socket.destroy();
    this.open.clear();
    this.idle.clear();
  }

  private connect(key: string, hostname: string, port: number): Connection {
    const connection = new Connection(connect({ host: hostname, port, noDelay: true }), key, (closed) => this.forget(closed));
    this.open.add(connection);
    return connection;
  }

  private take(key: string): Connection | undefined {
    const connections = this.idle.get(key);
    const now = performance.now();
    while (connections && connections.length > 0) {
      const connection = connections.pop()!;
      if (connections.length === 0) this.idle.delete(key);
      const { socket } = connection;
      // Idle too long, or closed by the server with its 'close' not emitted yet.
      if (connection.idleUntil < now || socket.destroyed || !socket.writable) {
        socket.destroy();
        continue;
      }
      socket.ref();
      return connection;
    }
    return undefined;
  }

  private release(connection: Connection, idleMs: number): void {
    let connections = this.idle.get(connection.key);
    if (!connections) this.idle.set(connection.key, (connections = []));
    connections.push(connection);
    connection.idleUntil = performance.now() + Math.min(this.keepAliveMs, idleMs);
    // An idle connection does not keep the process alive (as undici's don't).
    connection.socket.unref();
    this.sweeper ??= setInterval(() => this.sweep(), 1_000).unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const connections of this.idle.values()) {
      for (const connection of connections) if (connection.idleUntil < now) connection.socket.destroy();
    }
    if (this.idle.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  private forget(connection: Connection): void {
    this.open.delete(connection);
    const connections = this.idle.get(connection.key);
    const index = connections?.indexOf(connection) ?? -1;
    if (index < 0) return;
    connections!.splice(index, 1);
    if (connections!.length === 0) this.idle.delete(connection.key);
  }
}

const enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

/** One request's answer, read off its connection. */
class Exchange {
  private head = '';
  private status = 0;
  private body = Body.None;
  /** Body bytes left (Length), or bytes left of the current chunk and its CRLF (Chunked). */
  private left = 0;
  /** Chunked: text of a chunk-size line or trailer section not complete yet. */
  private line = '';
  private inTrailers = false;
  private keepAlive = true;
  /** How long the server says it keeps the connection idle (`Keep-Alive: timeout=N`), less a second. */
  private idleMs = Infinity;
  private settled = false;

  constructor(private readonly done: (status: number, reusable: boolean, idleMs: number) => void) {}

  /** Ends the exchange without an answer (cancelled, reset, malformed). */
  fail(): void {
    if (this.settled) return;
    this.settled = true;
    this.done(0, false, 0);
  }

  /** The connection closed: the end of a body read up to the close, else no answer. */
  closed(): void {
    if (this.body === Body.UntilClose && this.status) this.finish(false);
    else this.fail();
  }

  private finish(reusable: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.done(this.status, reusable && this.keepAlive && this.idleMs > 0, this.idleMs);
  }

  /** Reads what arrived; false when bytes came after the answer (then the connection is unusable). */
  read(chunk: Buffer): boolean {
    let offset = 0;
    while (!this.settled && offset < chunk.length) {
      if (this.status === 0) {
        offset = this.readHead(chunk, offset);
        if (offset < 0) return true;
        continue;
      }
      offset = this.readBody(chunk, offset);
    }
    return offset >= chunk.length;
  }

  /** Reads the status line and headers; returns where the body starts, or -1 when not complete. */
  private readHead(chunk: Buffer, offset: number): number {
    const before = this.head.length;
    this.head += chunk.toString('latin1', offset);
    const end = this.head.indexOf('\r\n\r\n', Math.max(0, before - 3));
    if (end < 0) {
      if (this.head.length > maxHeadBytes) this.fail();
      return -1;
    }
    const bodyStart = offset + (end + 4 - before);
    const head = this.head;
    this.head = '';
    // "HTTP/1.x SSS", then a space and the reason (or nothing) up to the first line's end.
    const status = head.startsWith('HTTP/1.') && head.charCodeAt(8) === 32 ? statusOf(head) : 0;
    if (status === 0) {
      this.fail();
      return -1;
    }
    // An informational answer (100 Continue, 102 Processing, 103 Early Hints) is never final.
    if (status < 200) return bodyStart;
    this.keepAlive = head.charCodeAt(7) === 49; // HTTP/1.1
    let length = -1;
    let chunked = false;
    for (let at = head.indexOf('\r\n') + 2; at > 1 && at < end; ) {
      const lineEnd = head.indexOf('\r\n', at);
      const line = head.slice(at, lineEnd);
      at = lineEnd + 2;
      const colon = line.indexOf(':');
      // Only four headers matter; their names are 10, 14 and 17 characters long.
      if (colon !== 10 && colon !== 14 && colon !== 17) continue;
      const name = line.slice(0, colon).toLowerCase();
      if (name === 'content-length') {
        const value = line.slice(colon + 1).trim();
        if (!/^\d+$/.test(value) || (length >= 0 && Number(value) !== length)) {
          this.fail();
          return -1;
        }
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = line.slice(colon + 1).split(',').pop()!.trim().toLowerCase() === 'chunked';
      } else if (name === 'keep-alive') {
        const seconds = /(?:^|[\s,])timeout=(\d+)/i.exec(line.slice(colon + 1))?.[1];
        if (seconds !== undefined) this.idleMs = Number(seconds) * 1000 - 1000;
      } else if (name === 'connection') {
        const tokens = line.slice(colon + 1).toLowerCase().split(',').map((token) => token.trim());
        if (tokens.includes('close')) this.keepAlive = false;
        else if (tokens.includes('keep-alive')) this.keepAlive = true;
      }
    }
    this.status = status;
    if (status === 204 || status === 304) this.body = Body.None;
    else if (chunked) this.body = Body.Chunked;
    else if (length >= 0) {
      this.body = Body.Length;
      this.left = length;
    } else {
      this.body = Body.UntilClose;
      this.keepAlive = false;
    }
    if (this.body === Body.None || (this.body === Body.Length && this.left === 0)) this.finish(true);
    return bodyStart;
  }

  /** Skips body bytes; returns where it stopped. */
  private readBody(chunk: Buffer, offset: number): number {
    if (this.body === Body.UntilClose) return chunk.length;
    if (this.body === Body.Length) {
      const take = Math.min(this.left, chunk.length - offset);
      this.left -= take;
      if (this.left === 0) this.finish(true);
      return offset + take;
    }
    return this.readChunked(chunk, offset);
  }

  private readChunked(chunk: Buffer, offset: number): number {
    while (offset < chunk.length && !this.settled) {
      if (this.left > 0) {
        const take = Math.min(this.left, chunk.length - offset);
        this.left -= take;
        offset += take;
        continue;
      }
      const newline = chunk.indexOf(10, offset);
      if (newline < 0) {
        this.line += chunk.toString('latin1', offset);
        if (this.line.length > maxHeadBytes) this.fail();
        return chunk.length;
      }
      const line = (this.line + chunk.toString('latin1', offset, newline)).replace(/\r$/, '');
      this.line = '';
      offset = newline + 1;
      if (this.inTrailers) {
        // Trailer lines until an empty one ends the message.
        if (line === '') this.finish(true);
        continue;
      }
      const size = Number.parseInt(line.split(';')[0]!.trim(), 16);
      if (!Number.isFinite(size) || size < 0) {
        this.fail();
        return chunk.length;
      }
      if (size === 0) this.inTrailers = true;
      // The chunk's data, then its CRLF.
      else this.left = size + 2;
    }
    return offset;
  }
}

/** The status of a response head starting "HTTP/1.x ", or 0 when it is not three digits and a space or line end. */
function statusOf(head: string): number {
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const digit = head.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return 0;
    status = status * 10 + digit;
  }
  const after = head.charCodeAt(12);
  return after === 32 || after === 13 || Number.isNaN(after) ? status : 0;
}

/** Header names and values this client writes as they are (undici validates anything else). */
const token = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const fieldValue = /^[\t\x20-\x7e]*$/;

/** True when every header can go on the wire as given: lower-case tokens, printable ASCII values. */
export function plainHeaders(headers: Record<string, string>): boolean {
  for (const name in headers) {
    if (!token.test(name) || name === 'host' || name === 'content-length' || name === 'transfer-encoding') return false;
    if (!fieldValue.test(headers[name]!)) return false;
  }
  return true;
}
