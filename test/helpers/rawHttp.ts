/**
 * A bare HTTP/1.1 client over a TCP socket, for tests that must send what fetch() and node:http
 * refuse or tidy up: no body and no Content-Length, chunked bodies, any Content-Encoding, any bytes.
 * Loopback only; one connection per request (`Connection: close`).
 */
import net from 'node:net';

/** One answer, as the server sent it. */
export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: Buffer;
}

/** A request: method, path and headers as given (no Host or Content-Length is added unless asked). */
export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** null: no body at all. */
  body: Buffer | null;
  /** Send the body with Transfer-Encoding: chunked, in pieces of this many bytes. */
  chunkBytes?: number;
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) throw new Error('raw http: truncated chunked body');
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error('raw http: bad chunk size');
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

function parseResponse(data: Buffer): RawResponse {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`raw http: no complete response head in ${data.length} bytes`);
  const [statusLine = '', ...lines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`raw http: bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(headEnd + 4);
  const body = headers['transfer-encoding']?.toLowerCase() === 'chunked' ? dechunk(rest) : rest;
  return { status, headers, body };
}

/** Sends one request to `port` on 127.0.0.1 and reads the answer until the server closes. */
export function rawRequest(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, connection: 'close', ...request.headers };
  const { body, chunkBytes } = request;
  if (body !== null && chunkBytes !== undefined) headers['transfer-encoding'] = 'chunked';
  else if (body !== null && headers['content-length'] === undefined) headers['content-length'] = String(body.length);
  const head = `${request.method} ${request.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`raw http: no answer within ${timeoutMs} ms`)));
    let failure: Error | null = null;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A server may answer before reading the whole body and close (EPIPE, ECONNRESET on our writes):
    // the answer it sent still counts.
    socket.on('error', (error) => (failure = error));
    socket.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (error) {
        reject(failure ?? error);
      }
    });
    socket.write(Buffer.from(head, 'latin1'));
    if (body !== null && chunkBytes !== undefined) {
      for (let offset = 0; offset < body.length; offset += chunkBytes) {
        const piece = body.subarray(offset, offset + chunkBytes);
        socket.write(`${piece.length.toString(16)}\r\n`);
        socket.write(piece);
        socket.write('\r\n');
      }
      socket.write('0\r\n\r\n');
    } else if (body !== null) {
      socket.write(body);
    }
  });
}
