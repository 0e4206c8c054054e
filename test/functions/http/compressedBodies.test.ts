import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import * as functionsFramework from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { guardCompressedBodies, refusingCompressedBodies } from '../../../functions/src/http/compressedBodies';

async function serve(name: string): Promise<{ server: Server; url: string; bodies: unknown[]; refused: string[] }> {
  const bodies: unknown[] = [];
  const refused: string[] = [];
  functionsFramework.http(
    name,
    refusingCompressedBodies(
      async (req, res) => {
        bodies.push(req.body);
        res.status(200).json({ length: req.headers['content-length'] ?? null });
      },
      (_req, refusal) => refused.push(refusal.code),
    ),
  );
  const server = getTestServer(name);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, bodies, refused };
}

describe('compressed request bodies', () => {
  let guarded: Awaited<ReturnType<typeof serve>>;
  let open: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    guarded = await serve('compressed-guarded');
    open = await serve('compressed-open');
    guardCompressedBodies([guarded.server]);
  });
  after(async () => {
    for (const { server } of [guarded, open]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  const post = (url: string, body: Buffer, encoding?: string) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(encoding ? { 'content-encoding': encoding } : {}) }, body });

  it('answers 415 compressed-body on a guarded server, before the framework inflates anything', async () => {
    for (const [encoding, body] of [
      ['gzip', zlib.gzipSync('{"a": 1}')],
      ['br', zlib.brotliCompressSync('{"a": 1}')],
      ['deflate', zlib.deflateSync('{"a": 1}')],
      ['x-unknown', Buffer.from('{"a": 1}')],
    ] as const) {
      const response = await post(guarded.url, body, encoding);
      assert.equal(response.status, 415);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'compressed-body');
    }
    assert.deepEqual(guarded.bodies, []);
    assert.equal(guarded.refused.length, 4);
  });

  it('passes uncompressed and identity bodies on as the framework parsed them, with their headers back', async () => {
    for (const encoding of [undefined, 'identity']) {
      const response = await post(guarded.url, Buffer.from('{"a": 2}'), encoding);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { length: '8' });
    }
    assert.deepEqual(guarded.bodies, [{ a: 2 }, { a: 2 }]);
  });

  it('leaves servers it was not given alone (the local stack guards only its functions)', async () => {
    const response = await post(open.url, zlib.gzipSync('{"a": 3}'), 'gzip');
    assert.equal(response.status, 200);
    assert.deepEqual(open.bodies, [{ a: 3 }]);
  });
});
