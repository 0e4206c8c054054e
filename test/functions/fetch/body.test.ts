import assert from 'node:assert/strict';
import { once } from 'node:events';
import zlib from 'node:zlib';
import { BodyTooLarge, decodersFor, TooManyEncodings } from '../../../functions/src/fetch/body';

describe('fetch body decoders', () => {
  for (const [label, compress] of [
    ['deflate (zlib-wrapped)', zlib.deflateSync],
    ['deflate (raw)', zlib.deflateRawSync],
  ] as const) {
    it(`stop a ${label} bomb at the cap even when nobody reads their output`, async () => {
      const [decoder] = decodersFor('deflate', 1024 * 1024);
      assert.ok(decoder);
      // 16 MB of zeros, never read: the memory budget may pause the reader exactly like this.
      decoder.end(compress(Buffer.alloc(16 * 1024 * 1024)));
      const timer = setTimeout(() => decoder.destroy(new Error('no error within 5 s')), 5_000);
      const [error] = (await once(decoder, 'error').finally(() => clearTimeout(timer))) as [Error];
      assert.ok(error instanceof BodyTooLarge, String(error));
    });
  }

  it('undo at most two content codings and refuse a longer list before making any decoder', () => {
    assert.equal(decodersFor('gzip, br', 1024).length, 2);
    assert.equal(decodersFor('identity, gzip, identity', 1024).length, 1);
    assert.throws(() => decodersFor('gzip, gzip, gzip', 1024), TooManyEncodings);
    assert.throws(() => decodersFor(Array(2000).fill('gzip').join(', '), 1024), (error: unknown) => error instanceof TooManyEncodings && error.count === 2000);
  });
});
