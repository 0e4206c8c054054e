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

/** One connection pool per origin, as an undici Agent keeps one. */
export class Http1Pool {
  private readonly idle = new Map<string, Socket[]>();
  private readonly open = new Set<Socket>();
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
    const socket = this.take(key) ?? this.connect(hostname, port);
    const exchange = new Exchange(socket, (status, reusable, idleMs) => {
      if (reusable && !this.closed) this.release(key, socket, idleMs);
      else socket.destroy();
      done(status);
    });
    let head = `POST ${path} HTTP/1.1\r\nhost: ${hostHeader}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    head += `content-length: ${length}\r\n\r\n`;
    socket.cork();
    if (typeof body === 'string') {
      socket.write(head + body);
    } else {
      socket.write(head, 'latin1');
      if (length > 0) socket.write(body);
    }
    socket.uncork();
    return () => exchange.fail();
  }

  /** Destroys every connection; requests in flight end with status 0. */
  close(): void {
    this.closed = true;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    this.idle.clear();
  }

  private connect(hostname: string, port: number): Socket {
    const socket = connect({ host: hostname, port, noDelay: true });
    this.open.add(socket);
    socket.once('close', () => {
      this.open.delete(socket);
      this.forget(socket);
    });
    // An error is followed by 'close'; the exchange in progress, if any, sees it there.
    socket.on('error', () => {});
    return socket;
  }

  private take(key: string): Socket | undefined {
    const sockets = this.idle.get(key);
    while (sockets && sockets.length > 0) {
      const socket = sockets.pop()!;
      if (sockets.length === 0) this.idle.delete(key);
      socket.setTimeout(0);
      socket.removeAllListeners('data');
      socket.removeAllListeners('timeout');
      // Closed by the server, its 'close' not emitted yet.
      if (socket.destroyed || !socket.writable) {
        socket.destroy();
        continue;
      }
      socket.ref();
      return socket;
    }
    return undefined;
  }

  private release(key: string, socket: Socket, idleMs: number): void {
    if (socket.destroyed) return;
    let sockets = this.idle.get(key);
    if (!sockets) this.idle.set(key, (sockets = []));
    sockets.push(socket);
    // Data on an idle connection is not an answer to anything: the connection is unusable.
    socket.on('data', () => socket.destroy());
    socket.setTimeout(Math.min(this.keepAliveMs, idleMs));
    socket.once('timeout', () => socket.destroy());
    // An idle connection does not keep the process alive (as undici's don't).
    socket.unref();
  }

  private forget(socket: Socket): void {
    for (const [key, sockets] of this.idle) {
      const index = sockets.indexOf(socket);
      if (index < 0) continue;
      sockets.splice(index, 1);
      if (sockets.length === 0) this.idle.delete(key);
      return;
    }
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
  private readonly onData = (chunk: Buffer): void => this.read(chunk);
  private readonly onClose = (): void => {
    if (this.body === Body.UntilClose && this.status) this.finish(false);
    else this.fail();
  };

  constructor(
    private readonly socket: Socket,
    private readonly done: (status: number, reusable: boolean, idleMs: number) => void,
  ) {
    socket.on('data', this.onData);
    socket.once('close', this.onClose);
  }

  /** Ends the exchange without an answer (cancelled, reset, malformed). */
  fail(): void {
    if (this.settled) return;
    this.settled = true;
    this.detach();
    this.done(0, false, 0);
  }

  private finish(reusable: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.detach();
    this.done(this.status, reusable && this.keepAlive && this.idleMs > 0, this.idleMs);
  }

  private detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onClose);
  }

  private read(chunk: Buffer): void {
    let offset = 0;
    while (!this.settled && offset < chunk.length) {
      if (this.status === 0) {
        offset = this.readHead(chunk, offset);
        if (offset < 0) return;
        continue;
      }
      offset = this.readBody(chunk, offset);
    }
    // Bytes after the answer: the server sent something no request asked for; don't reuse.
    if (this.settled && offset < chunk.length) this.socket.destroy();
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
    const head = this.head.slice(0, end);
    this.head = '';
    const lines = head.split('\r\n');
    const match = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0] ?? '');
    if (!match) {
      this.fail();
      return -1;
    }
    const status = Number(match[2]);
    // An informational answer (100 Continue, 102 Processing, 103 Early Hints) is never final.
    if (status < 200) return bodyStart;
    this.keepAlive = match[1] === '1';
    let length = -1;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value) || (length >= 0 && Number(value) !== length)) {
          this.fail();
          return -1;
        }
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = value.split(',').pop()!.trim() === 'chunked';
      } else if (name === 'keep-alive') {
        const seconds = /(?:^|[\s,])timeout=(\d+)/.exec(value)?.[1];
        if (seconds !== undefined) this.idleMs = Number(seconds) * 1000 - 1000;
      } else if (name === 'connection') {
        const tokens = value.split(',').map((token) => token.trim());
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
