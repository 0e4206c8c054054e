/**
 * The `terminal` parameter of `GET /portfolios/{id}`: the articles the caller already holds as `done`
 * or `failed`, so a poll reads only the others (one Firestore read for the portfolio plus one per
 * article still pending, not one per article on every poll).
 *
 * It is a bitmap over the portfolio's article indexes (bit i = article i, least significant bit of
 * byte 0 first) in base64url without padding: 1,000 articles take 168 characters.
 */
import { ApiError } from '../apiError';

/** Decodes the bitmap for a portfolio of `count` articles; throws 400 `invalid-terminal` if it can't be one. */
export function parseTerminalBitmap(value: unknown, count: number): (index: number) => boolean {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(value) || value.length % 4 === 1) {
    throw new ApiError(400, 'invalid-terminal', '"terminal" must be a base64url bitmap of article indexes (bit i set = article i is already done or failed).');
  }
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length > Math.ceil(count / 8)) {
    throw new ApiError(400, 'invalid-terminal', `"terminal" has ${bytes.length * 8} bits; the portfolio has ${count} articles.`, { articles: count });
  }
  return (index) => ((bytes[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
}

/** Encodes the indexes as the bitmap {@link parseTerminalBitmap} reads (tests and benchmarks use it; the page has its own). */
export function terminalBitmap(indexes: Iterable<number>, count: number): string {
  const bytes = Buffer.alloc(Math.ceil(count / 8));
  for (const index of indexes) bytes[index >> 3] = (bytes[index >> 3] ?? 0) | (1 << (index & 7));
  return bytes.toString('base64url');
}
