/**
 * Compressed request bodies refused before anything inflates them. functions-framework's body parsers
 * inflate gzip, deflate and br bodies up to 1 GB before any function runs (a 0.4 KB brotli body grew
 * a function by 1.5 GB, held for 30 s; at the deployed 512Mi the instance dies), and it has no hook in
 * front of them.
 *
 * How, soundly: Node publishes every request on the `http.server.request.start` diagnostics channel
 * synchronously, before the server's 'request' event runs the framework's express app.
 * {@link guardCompressedBodies} subscribes; for a request that declares a body with a Content-Encoding
 * other than identity, it moves the headers that declare the body (Content-Length, Transfer-Encoding)
 * aside, so body-parser sees a request without a body and leaves the stream unread (the HTTP framing is
 * Node's own and does not depend on those header values). The function, wrapped by
 * {@link refusingCompressedBodies}, puts the headers back and answers 415 with our JSON error, reading
 * nothing; the connection is closed with the body unread. Uncompressed bodies are parsed by the
 * framework as before (their size is what the platform caps: 32 MiB on Cloud Run). Pub/Sub never
 * compresses pushes, and a client has no reason to compress a list of URLs. Nothing of the framework is
 * replaced, so the functions still run as ordinary functions-framework functions.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, Server } from 'node:http';
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Logger } from '../log';

const BODY_HEADERS = ['content-length', 'transfer-encoding'] as const;

/** What was moved aside from a refused request: the coding and the body headers. */
interface Hidden {
  encoding: string;
  headers: Partial<Record<(typeof BODY_HEADERS)[number], string>>;
}

const HIDDEN = Symbol('compressed body');
type Marked = IncomingMessage & { [HIDDEN]?: Hidden };

/** Servers whose requests are guarded; `all` in a function's own process, where every server is the function's. */
let guarded: 'all' | WeakSet<Server> | null = null;
let subscribed = false;

/** The Content-Encoding of a request that declares a body, when it is anything but identity. */
function compressedBodyEncoding(request: IncomingMessage): string | null {
  const hasBody = request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined;
  const encoding = request.headers['content-encoding']?.trim().toLowerCase() ?? '';
  return hasBody && encoding !== '' && encoding !== 'identity' ? encoding : null;
}

function onRequestStart(message: unknown): void {
  const { request, server } = message as { request: Marked; server: Server };
  if (guarded === null || (guarded !== 'all' && !guarded.has(server))) return;
  const encoding = compressedBodyEncoding(request);
  if (encoding === null) return;
  const headers: Hidden['headers'] = {};
  for (const name of BODY_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
    delete request.headers[name];
  }
  request[HIDDEN] = { encoding, headers };
}

/**
 * Keeps compressed request bodies away from functions-framework's parsers: for every server of this
 * process (the production entry, whose process serves one function), or for the servers given (the
 * local stack, whose process also runs test sites). Safe to call more than once.
 */
export function guardCompressedBodies(servers: 'all' | Server[] = 'all'): void {
  if (servers === 'all') guarded = 'all';
  else if (guarded !== 'all') {
    guarded ??= new WeakSet();
    for (const server of servers) guarded.add(server);
  }
  if (!subscribed) {
    diagnosticsChannel.subscribe('http.server.request.start', onRequestStart);
    subscribed = true;
  }
}

/** The refusal of a compressed body: status 415, code `compressed-body`. */
export interface CompressedBodyRefusal {
  status: 415;
  code: 'compressed-body';
  message: string;
}

/**
 * Wraps a function so that a guarded request with a compressed body is answered 415 with our JSON
 * error, unread, and `onRefused` is told (for the log). Any other request goes to `handler` as it came.
 */
export function refusingCompressedBodies(
  handler: (req: Request, res: Response) => Promise<void>,
  onRefused: (req: Request, refusal: CompressedBodyRefusal) => void = () => undefined,
): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const marked = req as Request & Marked;
    const hidden = marked[HIDDEN];
    if (hidden === undefined) return handler(req, res);
    delete marked[HIDDEN];
    Object.assign(req.headers, hidden.headers);
    const refusal: CompressedBodyRefusal = {
      status: 415,
      code: 'compressed-body',
      message: `Compressed request bodies (Content-Encoding: ${hidden.encoding.slice(0, 100)}) are not accepted; send the body uncompressed.`,
    };
    onRefused(req, refusal);
    // The body stays unread: close the connection rather than drain it.
    res.set('Connection', 'close');
    res.status(refusal.status).json({ error: { code: refusal.code, message: refusal.message } });
  };
}

/** `onRefused` for {@link refusingCompressedBodies}: one WARNING line naming the function. */
export function logRefusal(log: Logger, target: string): (req: Request, refusal: CompressedBodyRefusal) => void {
  return (req, refusal) =>
    log({ severity: 'WARNING', message: `${target}: ${req.method} ${req.path} ${refusal.status}: ${refusal.message}`, code: refusal.code, outcome: String(refusal.status) });
}
