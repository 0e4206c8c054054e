/**
 * Reading a response body under a byte cap. undici's `request` hands over the bytes as sent, so the
 * fetcher decompresses them itself (gzip, deflate, br): that way the cap counts decompressed bytes and a
 * small compressed "bomb" is stopped after `maxBytes` of output, not after it filled memory. Passing the
 * cap destroys the whole pipeline, which closes the socket: the rest of the transfer is never read.
 */
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { BodyLease } from './bodyBudget';

/** Thrown when the body passes the cap. */
export class BodyTooLarge extends Error {
  constructor(
    readonly limit: number,
    readonly what: 'decompressed' | 'transferred',
  ) {
    super(`the ${what} body is larger than ${limit} bytes`);
  }
}

/** Thrown for a Content-Encoding the fetcher can't decode. */
export class UnsupportedEncoding extends Error {
  constructor(readonly encoding: string) {
    super(`unsupported content-encoding "${encoding}"`);
  }
}

/** Thrown when the decompressor rejects the bytes (truncated or corrupt transfer). */
export class DecodeFailed extends Error {
  constructor(override readonly cause: Error) {
    super(`the body could not be decompressed (${cause.message})`);
  }
}

/** Thrown for a Content-Encoding listing more codings than {@link MAX_CONTENT_CODINGS}. */
export class TooManyEncodings extends Error {
  constructor(readonly count: number) {
    super(`${count} content codings`);
  }
}

/** Content-Encoding values the fetcher sends in Accept-Encoding and can undo. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

/**
 * Codings undone per response. One is what servers send; two happens (a gzip file served with gzip);
 * each costs a decoder's buffers (a header listing 2,000 took 110 MB), so more are refused.
 */
export const MAX_CONTENT_CODINGS = 2;

/**
 * Content-Encoding header → decoders in the order to apply them (the header lists them as applied).
 * zlib's own streams respect backpressure; `maxBytes` bounds the one wrapper that can't. Throws
 * TooManyEncodings past {@link MAX_CONTENT_CODINGS}, UnsupportedEncoding for a coding it can't undo.
 */
export function decodersFor(contentEncoding: string | undefined, maxBytes: number): Transform[] {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length > MAX_CONTENT_CODINGS) throw new TooManyEncodings(codings.length);
  return codings.reverse().map((coding) => {
    switch (coding) {
      case 'gzip':
      case 'x-gzip':
        return zlib.createGunzip();
      case 'deflate':
        return inflateEitherWay(maxBytes);
      case 'br':
        return zlib.createBrotliDecompress();
      default:
        throw new UnsupportedEncoding(coding);
    }
  });
}

/**
 * "deflate" should be zlib-wrapped, but some servers send raw deflate; the first byte tells which.
 * This wrapper pushes the inner stream's output without waiting for the reader, so it enforces the
 * cap on what it has produced itself: while the budget pauses the reader, a deflate bomb can't pile
 * up more than `maxBytes` here.
 */
function inflateEitherWay(maxBytes: number): Transform {
  let inner: zlib.Inflate | zlib.InflateRaw | null = null;
  let produced = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (!inner) {
        // A zlib header starts with CMF 0x?8 (deflate method 8) and passes the FCHECK test.
        const wrapped = chunk.length >= 2 && ((chunk[0] ?? 0) & 0x0f) === 8 && (((chunk[0] ?? 0) << 8) | (chunk[1] ?? 0)) % 31 === 0;
        inner = wrapped ? zlib.createInflate() : zlib.createInflateRaw();
        inner.on('data', (out: Buffer) => {
          produced += out.length;
          if (produced > maxBytes) this.destroy(new BodyTooLarge(maxBytes, 'decompressed'));
          else this.push(out);
        });
        inner.on('error', (error) => this.destroy(error));
      }
      inner.write(chunk, done);
    },
    flush(done) {
      if (!inner) return done();
      inner.once('end', () => done());
      inner.end();
    },
    destroy(error, done) {
      inner?.destroy();
      done(error);
    },
  });
}

/** What a body read is bounded by. */
export interface BodyLimits {
  maxBytes: number;
  /** Instance-wide memory budget share; the read waits while the budget is spent. */
  lease?: BodyLease;
  /** Aborts a wait for the budget (the body stream itself is aborted by undici on the same signal). */
  signal: AbortSignal;
}

/**
 * Reads `body` through `decoders` and returns the decoded bytes; throws BodyTooLarge past `maxBytes`
 * (counting both what arrives and what comes out of the decompressors), DecodeFailed for corrupt
 * compressed data, and whatever error the body stream raises (timeouts, aborts, resets).
 */
export async function readCappedBody(body: Readable, decoders: Transform[], limits: BodyLimits): Promise<Buffer> {
  const { maxBytes, lease, signal } = limits;
  let transferred = 0;
  const countTransfer = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      transferred += chunk.length;
      if (transferred > maxBytes) done(new BodyTooLarge(maxBytes, 'transferred'));
      else done(null, chunk);
    },
  });
  const chunks: Buffer[] = [];
  let size = 0;
  const collect = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (size + chunk.length > maxBytes) return done(new BodyTooLarge(maxBytes, decoders.length > 0 ? 'decompressed' : 'transferred'));
      const keep = (): void => {
        chunks.push(chunk);
        size += chunk.length;
        done();
      };
      // Not calling done() until the budget allows pauses the pipeline, and with it the socket.
      if (lease) lease.take(chunk.length, signal).then(keep, done);
      else keep();
    },
  });
  try {
    await pipeline([body, countTransfer, ...decoders, collect]);
  } catch (error) {
    if (error instanceof Error && 'errno' in error && typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      throw new DecodeFailed(error);
    }
    throw error;
  }
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  // Joining copies the chunks once more; the budget counts that copy too.
  await lease?.take(size, signal);
  return Buffer.concat(chunks, size);
}
