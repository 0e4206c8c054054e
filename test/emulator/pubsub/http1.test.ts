import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Http1Pool, plainHeaders } from '../../../emulator/pubsub/http1';

/**
 * The emulator's own HTTP/1.1 push client (emulator/pubsub/http1.ts) against real loopback servers:
 * Node's HTTP server, and raw sockets that answer with exactly the bytes a test gives, split as given.
 */
describe('push HTTP/1.1 client (emulator/pubsub/http1.ts)', () => {
  const servers: Server[] = [];
  const pools: Http1Pool[] = [];
  afterEach(async () => {
    for (const pool of pools.splice(0)) pool.close();
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  const pool = (): Http1Pool => {
    const made = new Http1Pool(4_000);
    pools.push(made);
    return made;
  };
  const listen = async (server: Server): Promise<number> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const post = (client: Http1Pool, port: number, body: string | Buffer = '{"m":1}', headers = { 'content-type': 'application/json' }) =>
    new Promise<number>((resolve) => client.post('127.0.0.1', port, `127.0.0.1:${port}`, '/push?x=1', headers, body, resolve));

  /** In an answer: the server closes the connection here. */
  const END = '\u0000end';

  /** A server that reads one request per answer and writes each answer's pieces with a pause between. */
  async function scripted(answers: Array<string[] | 'close' | 'reset'>): Promise<{ port: number; connections: number; requests: string[] }> {
    const state = { port: 0, connections: 0, requests: [] as string[] };
    let next = 0;
    const server = createServer((socket: Socket) => {
      state.connections += 1;
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
        if (text.length < end + 4 + length) return;
        state.requests.push(text.slice(0, end + 4 + length));
        text = text.slice(end + 4 + length);
        const answer = answers[next++];
        if (answer === 'close' || answer === undefined) return void socket.end();
        if (answer === 'reset') return void socket.resetAndDestroy();
        void (async () => {
          for (const piece of answer) {
            if (piece === END) {
              socket.end();
              return;
            }
            socket.write(piece);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })();
      });
      socket.on('error', () => {});
    });
    state.port = await listen(server);
    return state;
  }

  it('sends a POST with host, headers and content length, and reuses the connection for the next push', async () => {
    const seen: Array<{ method?: string; url?: string; host?: string; type?: string; body: string; socket: unknown }> = [];
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, host: req.headers.host, type: req.headers['content-type'], body, socket: req.socket });
        res.writeHead(seen.length === 2 ? 500 : 204).end();
      });
    });
    const port = await listen(server as unknown as Server);
    const client = pool();
    assert.deepEqual([await post(client, port), await post(client, port, Buffer.from('raw bytes')), await post(client, port)], [204, 500, 204]);
    assert.deepEqual(
      seen.map(({ method, url, host, type, body }) => ({ method, url, host, type, body })),
      [
        { method: 'POST', url: '/push?x=1', host: `127.0.0.1:${port}`, type: 'application/json', body: '{"m":1}' },
        { method: 'POST', url: '/push?x=1', host: `127.0.0.1:${port}`, type: 'application/json', body: 'raw bytes' },
        { method: 'POST', url: '/push?x=1', host: `127.0.0.1:${port}`, type: 'application/json', body: '{"m":1}' },
      ],
    );
    assert.equal(new Set(seen.map((request) => request.socket)).size, 1, 'one kept-alive connection');
    server.closeAllConnections();
  });

  it('reads answers split anywhere: a body by length, a chunked body with trailers, informational answers first', async () => {
    const byteByByte = (text: string): string[] => [...text];
    const server = await scripted([
      ['HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello', ' world'],
      byteByByte('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n'),
      ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n'],
      ['HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\n\r\nno!'],
    ]);
    const client = pool();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await post(client, server.port));
    assert.deepEqual(statuses, [200, 201, 202, 503]);
    assert.equal(server.connections, 1, 'every answer was read to its end, so the connection stayed usable');
  });

  it('opens a new connection after Connection: close, and reads a body without length up to the close', async () => {
    const server = await scripted([
      ['HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n'],
      ['HTTP/1.0 200 OK\r\n\r\nuntil ', 'the end', END],
      ['HTTP/1.1 204 No Content\r\n\r\n'],
    ]);
    const client = pool();
    assert.deepEqual([await post(client, server.port), await post(client, server.port), await post(client, server.port)], [204, 200, 204]);
    assert.equal(server.connections, 3);
  });

  it('does not reuse a connection that sent bytes after its answer, idled past its time, or the server limits to less', async () => {
    const server = await scripted([
      ['HTTP/1.1 204 No Content\r\n\r\nnot asked for'],
      ['HTTP/1.1 204 No Content\r\n\r\n'],
      ['HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=1\r\n\r\n'],
      ['HTTP/1.1 204 No Content\r\n\r\n'],
      ['HTTP/1.1 204 No Content\r\n\r\n'],
    ]);
    const client = new Http1Pool(100);
    pools.push(client);
    assert.equal(await post(client, server.port), 204);
    assert.equal(await post(client, server.port), 204);
    assert.equal(server.connections, 2, 'a new connection after the stray bytes');
    assert.equal(await post(client, server.port), 204);
    assert.equal(await post(client, server.port), 204);
    assert.equal(server.connections, 3, 'Keep-Alive: timeout=1 leaves no time to reuse it');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(await post(client, server.port), 204);
    assert.equal(server.connections, 4, 'idle for longer than the pool keeps connections');
  });

  it('ends a request in flight without a status when the pool closes', async () => {
    const server = await scripted([['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart of it']]);
    const client = pool();
    const pending = post(client, server.port);
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.close();
    assert.equal(await pending, 0);
  });

  it('answers 0 (a nack) for a refused connection, a reset, a malformed answer and a cancelled request', async () => {
    const refused = await listen(createServer());
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const client = pool();
    assert.equal(await post(client, refused), 0);

    const server = await scripted(['reset', ['SMTP ready\r\n\r\n'], ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello'], ['HTTP/1.1 200 OK\r\n'], ['HTTP/1.1 204 No Content\r\n\r\n']]);
    assert.equal(await post(client, server.port), 0, 'reset');
    assert.equal(await post(client, server.port), 0, 'not HTTP');
    assert.equal(await post(client, server.port), 0, 'conflicting lengths');
    const hanging = new Promise<number>((resolve) => {
      const cancel = client.post('127.0.0.1', server.port, `127.0.0.1:${server.port}`, '/', {}, 'x', resolve);
      setTimeout(cancel, 50);
    });
    assert.equal(await hanging, 0, 'cancelled before the answer ended');
    assert.equal(await post(client, server.port), 204, 'a failed exchange never spoils the next: it gets a fresh connection');
    assert.equal(server.connections, 5);
  });

  it('writes only headers it need not check further: lower-case tokens and printable values', () => {
    assert.equal(plainHeaders({ 'content-type': 'application/json', authorization: 'Bearer a.b.c', 'x-goog-pubsub-message-id': '12' }), true);
    assert.equal(plainHeaders({ 'x-attr': 'line\r\nx-injected: 1' }), false);
    assert.equal(plainHeaders({ 'x-attr': 'café' }), false, 'non-ASCII values go through undici');
    assert.equal(plainHeaders({ 'Bad Name': 'x' }), false);
    assert.equal(plainHeaders({ host: 'elsewhere' }), false);
  });
});
