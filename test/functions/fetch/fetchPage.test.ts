import assert from 'node:assert/strict';
import type http from 'node:http';
import zlib from 'node:zlib';
import { FetchError, closeSharedAgents, fetchPage, parseRetryAfter, type FetchOptions } from '../../../functions/src/fetch';
import { fence, startSite, tableResolver, type Fence, type Site } from './helpers';

const PAGE = '<!doctype html><html><head><title>An article</title></head><body><p>Hello</p></body></html>';

/** Writes as fast as the socket takes it, forever (until the client goes away). */
function endless(res: http.ServerResponse, chunk: Buffer): void {
  const pump = (): void => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
}

/** One byte every few milliseconds, forever. */
function trickle(res: http.ServerResponse): void {
  res.write('<html>');
  const timer = setInterval(() => res.write(' '), 20);
  res.on('close', () => clearInterval(timer));
}

describe('fetchPage', () => {
  let site: Site;
  let net: Fence;
  /** Responses whose client went away before they finished: the server saw the transfer aborted. */
  const abandoned: string[] = [];
  // Letters, not spaces: a body of only whitespace is an empty page.
  const bomb = Buffer.alloc(4 * 1024 * 1024, 0x61);
  const gzipBomb = zlib.gzipSync(bomb);
  const brBomb = zlib.brotliCompressSync(bomb, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
  const deflateBomb = zlib.deflateSync(bomb);
  const hops = new Map<string, number>();

  const routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void> = {
    '/page': (_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE),
    '/xhtml': (_req, res) => res.writeHead(200, { 'content-type': 'application/xhtml+xml' }).end(PAGE),
    '/gzip': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(zlib.gzipSync(PAGE)),
    '/br': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'br' }).end(zlib.brotliCompressSync(PAGE)),
    '/deflate': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'deflate' }).end(zlib.deflateSync(PAGE)),
    '/deflate-raw': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'deflate' }).end(zlib.deflateRawSync(PAGE)),
    '/gzip-bomb': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(gzipBomb),
    '/br-bomb': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'br' }).end(brBomb),
    '/deflate-bomb': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'deflate' }).end(deflateBomb),
    '/corrupt-gzip': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(Buffer.from('not gzip at all')),
    '/compress': (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'compress' }).end('x'),
    '/endless': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      endless(res, Buffer.alloc(16 * 1024, 0x61));
    },
    '/big-declared': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(10 * 1024 * 1024) });
      endless(res, Buffer.alloc(16 * 1024, 0x61));
    },
    '/slow-headers': () => undefined,
    '/trickle': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      trickle(res);
    },
    '/stall': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<html><body>first part');
    },
    '/pdf': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/pdf' });
      endless(res, Buffer.alloc(16 * 1024, 0x25));
    },
    '/json': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}'),
    '/image': (_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47])),
    '/plain': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('<html>not declared as html</html>'),
    '/untyped-html': (_req, res) => res.end('\n  <!DOCTYPE html><html><title>untyped</title></html>'),
    '/untyped-text': (_req, res) => res.end('just some text'),
    '/404': (_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>gone</h1>'),
    '/410': (_req, res) => res.writeHead(410).end(),
    '/403': (_req, res) => res.writeHead(403).end(),
    '/408': (_req, res) => res.writeHead(408).end(),
    '/500': (_req, res) => res.writeHead(500).end(),
    '/502': (_req, res) => res.writeHead(502).end(),
    '/503-seconds': (_req, res) => res.writeHead(503, { 'retry-after': '120' }).end(),
    '/429-date': (_req, res) => res.writeHead(429, { 'retry-after': new Date(Date.now() + 3_600_000).toUTCString() }).end(),
    '/429-bare': (_req, res) => res.writeHead(429).end(),
    '/redirect-no-location': (_req, res) => res.writeHead(302).end(),
    '/redirect-relative': (_req, res) => res.writeHead(301, { location: '/page#section' }).end(),
    '/redirect-bad': (_req, res) => res.writeHead(302, { location: 'http://exa mple.com:99999/' }).end(),
    '/user-agent': (req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<p>${req.headers['user-agent'] ?? ''}</p>`),
    '/slow-page': (_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE), 30);
    },
  };

  before(async () => {
    site = await startSite((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      res.on('close', () => {
        if (!res.writableFinished) abandoned.push(url.pathname);
      });
      const chain = /^\/chain\/(\d+)$/.exec(url.pathname);
      if (chain) {
        // /chain/N redirects N more times, then serves the page; /loop/... never stops.
        const left = Number(chain[1]);
        if (left === 0) res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
        else res.writeHead(left % 2 ? 302 : 308, { location: `/chain/${left - 1}` }).end();
        return;
      }
      const loop = /^\/loop\/(\d+)$/.exec(url.pathname);
      if (loop) {
        hops.set('loop', (hops.get('loop') ?? 0) + 1);
        res.writeHead(302, { location: `/loop/${(Number(loop[1]) + 1) % 3}` }).end();
        return;
      }
      const route = routes[url.pathname];
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
  });
  after(() => site.close());

  beforeEach(() => {
    net = fence();
    abandoned.length = 0;
  });
  afterEach(() => assert.deepEqual(net.violations, []));

  /** Loopback tests need the local-development switch; limits are tiny so failures come quickly. */
  const options = (extra: Partial<FetchOptions> = {}): Partial<FetchOptions> => ({
    connector: net.connector,
    allowPrivateNetworks: true,
    timeoutMs: 3_000,
    connectTimeoutMs: 500,
    headersTimeoutMs: 300,
    bodyIdleTimeoutMs: 300,
    maxBytes: 256 * 1024,
    ...extra,
  });

  async function failure(path: string, extra: Partial<FetchOptions> = {}): Promise<FetchError> {
    const error: unknown = await fetchPage(site.url(path), options(extra)).then(
      () => assert.fail(`${path} was fetched`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof FetchError, `expected a FetchError, got ${String(error)}`);
    return error;
  }

  describe('success', () => {
    it('returns the page with its final URL, status, type, charset and size', async () => {
      const page = await fetchPage(site.url('/page'), options());
      assert.equal(page.html, PAGE);
      assert.equal(page.requestedUrl, site.url('/page'));
      assert.equal(page.finalUrl, site.url('/page'));
      assert.equal(page.status, 200);
      assert.equal(page.contentType, 'text/html');
      assert.equal(page.charset, 'utf-8');
      assert.equal(page.bytes, Buffer.byteLength(PAGE));
      assert.equal(page.redirects, 0);
    });

    it('reads XHTML', async () => {
      const page = await fetchPage(site.url('/xhtml'), options());
      assert.equal(page.contentType, 'application/xhtml+xml');
      assert.equal(page.html, PAGE);
    });

    for (const encoding of ['gzip', 'br', 'deflate', 'deflate-raw']) {
      it(`decompresses ${encoding}`, async () => {
        const page = await fetchPage(site.url(`/${encoding}`), options());
        assert.equal(page.html, PAGE);
        assert.equal(page.bytes, Buffer.byteLength(PAGE));
      });
    }

    it('sends the configured User-Agent', async () => {
      const page = await fetchPage(site.url('/user-agent'), options({ userAgent: 'TestScraper/1.0 (+mailto:ops@example.org)' }));
      assert.equal(page.html, '<p>TestScraper/1.0 (+mailto:ops@example.org)</p>');
    });

    it('keeps the default for an option passed as undefined', async () => {
      const page = await fetchPage(site.url('/user-agent'), { ...options(), userAgent: undefined });
      assert.match(page.html, /^<p>PortfolioScraper\//);
    });

    it('answers localhost itself with the default resolver (no DNS query), for local development', async () => {
      const page = await fetchPage(`http://localhost:${site.port}/page`, options());
      assert.equal(page.html, PAGE);
      assert.deepEqual(net.attempts, [`127.0.0.1:${site.port}`]);
    });

    it('reads an HTML page served without Content-Type', async () => {
      const page = await fetchPage(site.url('/untyped-html'), options());
      assert.match(page.html, /<title>untyped<\/title>/);
    });
  });

  describe('with the shared agent and undici\'s own connector', () => {
    after(() => closeSharedAgents());

    it('connects a name to the address the resolver gave, not to what DNS would say', async () => {
      // No injected connector: the production path. The name exists only in this resolver.
      const resolver = tableResolver({ 'articles.test': ['127.0.0.1'] });
      const page = await fetchPage(`http://articles.test:${site.port}/page`, { resolver, allowPrivateNetworks: true, timeoutMs: 3_000 });
      assert.equal(page.html, PAGE);
      assert.equal(site.requests.at(-1)?.headers.host, `articles.test:${site.port}`);
    });
  });

  describe('redirects', () => {
    it('follows five redirects, relative ones included, and reports where the page came from', async () => {
      const page = await fetchPage(site.url('/chain/5'), options());
      assert.equal(page.redirects, 5);
      assert.equal(page.finalUrl, site.url('/chain/0'));
      const relative = await fetchPage(site.url('/redirect-relative'), options());
      assert.equal(relative.finalUrl, site.url('/page'));
    });

    it('gives up on the sixth redirect', async () => {
      const error = await failure('/chain/6');
      assert.equal(error.code, 'too-many-redirects');
      assert.equal(error.retryable, false);
    });

    it('stops a redirect loop after the limit', async () => {
      hops.clear();
      const error = await failure('/loop/0');
      assert.equal(error.code, 'too-many-redirects');
      assert.equal(hops.get('loop'), 6);
    });

    it('honours a lower redirect limit', async () => {
      assert.equal((await failure('/chain/2', { maxRedirects: 1 })).code, 'too-many-redirects');
    });

    it('treats a redirect without Location, or with a broken one, as permanent', async () => {
      const missing = await failure('/redirect-no-location');
      assert.equal(missing.code, 'http-302');
      assert.equal(missing.retryable, false);
      assert.equal((await failure('/redirect-bad')).code, 'invalid-url');
    });
  });

  describe('limits', () => {
    it('times out when the response headers never come', async () => {
      const error = await failure('/slow-headers');
      assert.equal(error.code, 'timeout');
      assert.equal(error.retryable, true);
      assert.match(error.message, /no response headers within 300 ms/);
    });

    it('times out when the body goes silent', async () => {
      const error = await failure('/stall');
      assert.equal(error.code, 'timeout');
      assert.match(error.message, /stopped sending its body for 300 ms/);
    });

    it('ends a body that trickles forever at the overall deadline', async () => {
      const error = await failure('/trickle', { timeoutMs: 400 });
      assert.equal(error.code, 'timeout');
      assert.match(error.message, /overall limit of 400 ms/);
    });

    it('times out when connecting hangs', async () => {
      const error = await failure('/page', { connector: () => undefined, connectTimeoutMs: 100 });
      assert.equal(error.code, 'timeout');
      assert.match(error.message, /Connecting to .* took longer than 100 ms/);
    });

    it('can be cancelled by the caller', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const error = await failure('/slow-headers', { signal: controller.signal, headersTimeoutMs: 5_000 });
      assert.equal(error.code, 'timeout');
      assert.match(error.message, /cancelled/);
    });

    it('aborts an endless body at the cap instead of reading it to the end', async () => {
      const error = await failure('/endless');
      assert.equal(error.code, 'too-large');
      assert.equal(error.retryable, false);
      await waitFor(() => abandoned.includes('/endless'));
    });

    it('refuses a declared Content-Length above the cap without reading the body', async () => {
      const error = await failure('/big-declared');
      assert.equal(error.code, 'too-large');
      await waitFor(() => abandoned.includes('/big-declared'));
    });

    for (const kind of ['gzip', 'br', 'deflate']) {
      it(`stops a ${kind} body that decompresses past the cap`, async () => {
        const error = await failure(`/${kind}-bomb`);
        assert.equal(error.code, 'too-large');
        assert.match(error.message, /decompressed/);
      });
    }

    it('reads a compressed body whose decompressed size fits', async () => {
      const page = await fetchPage(site.url('/gzip-bomb'), options({ maxBytes: 5 * 1024 * 1024 }));
      assert.equal(page.bytes, bomb.length);
    });

    it('runs at most perHostConcurrency requests to one host at a time', async () => {
      let active = 0;
      let peak = 0;
      const busy = await startSite((_req, res) => {
        active += 1;
        peak = Math.max(peak, active);
        setTimeout(() => {
          active -= 1;
          res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
        }, 20);
      });
      try {
        const pages = await Promise.all(Array.from({ length: 6 }, () => fetchPage(busy.url('/'), options({ perHostConcurrency: 2 }))));
        assert.equal(pages.length, 6);
        assert.equal(peak, 2);
      } finally {
        await busy.close();
      }
    });
    describe('waiting for a per-host slot', () => {
      /** A site of its own, so requests can be counted: /slow answers after 250 ms, /hang never, /fast at once. */
      let queued: Site;
      before(async () => {
        queued = await startSite((req, res) => {
          if (req.url === '/slow') setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE), 250);
          else if (req.url === '/fast') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
          else if (req.url === '/to-b') res.writeHead(302, { location: `http://b.test:${queued.port}/fast` }).end();
          // '/hang': never answers.
        });
      });
      after(() => queued.close());
      beforeEach(() => {
        queued.requests.length = 0;
      });
      const paths = (): string[] => queued.requests.map((req) => req.url ?? '');

      /** Starts a fetch of /hang (on 127.0.0.1 unless `url` says) that holds a slot until `cancel` is called. */
      async function hang(extra: Partial<FetchOptions>, url = queued.url('/hang')): Promise<{ cancel: () => Promise<void> }> {
        const controller = new AbortController();
        const pending = fetchPage(url, options({ ...extra, signal: controller.signal, timeoutMs: 10_000, headersTimeoutMs: 10_000 })).catch(() => undefined);
        await waitFor(() => paths().includes('/hang'));
        return {
          cancel: async () => {
            controller.abort();
            await pending;
          },
        };
      }

      it('gives a page queued behind slow pages of its host its whole deadline, however long it waited', async () => {
        const limits = { perHostConcurrency: 1, timeoutMs: 500, hostWaitTimeoutMs: 5_000 };
        const slow = Array.from({ length: 3 }, () => fetchPage(queued.url('/slow'), options(limits)));
        const started = Date.now();
        const fast = await fetchPage(queued.url('/fast'), options(limits));
        const waited = Date.now() - started;
        assert.equal(fast.status, 200);
        assert.ok(waited > limits.timeoutMs, `the fast page waited only ${waited} ms`);
        assert.equal((await Promise.all(slow)).length, 3);
        assert.deepEqual(paths(), ['/slow', '/slow', '/slow', '/fast']);
      });

      it('fails host-busy (retryable) without sending a request when no slot frees up in time', async () => {
        const holder = await hang({ perHostConcurrency: 1 });
        try {
          const started = Date.now();
          const error = await fetchPage(queued.url('/fast'), options({ perHostConcurrency: 1, hostWaitTimeoutMs: 200 })).then(
            () => assert.fail('/fast was fetched'),
            (e: unknown) => e,
          );
          assert.ok(error instanceof FetchError);
          assert.equal(error.code, 'host-busy');
          assert.equal(error.retryable, true);
          assert.match(error.message, /was not requested.*FETCH_HOST_WAIT_TIMEOUT_MS/);
          assert.ok(Date.now() - started < 2_000);
          assert.deepEqual(paths(), ['/hang']);
        } finally {
          await holder.cancel();
        }
        // The abandoned wait left no trace: the next page gets the freed slot at once.
        assert.equal((await fetchPage(queued.url('/fast'), options({ perHostConcurrency: 1, hostWaitTimeoutMs: 0 }))).status, 200);
      });

      describe('on a redirect to another host', () => {
        const resolver = tableResolver({ 'a.test': ['127.0.0.1'], 'b.test': ['127.0.0.1'] });
        const at = (host: string, path: string): string => `http://${host}:${queued.port}${path}`;

        it('stops the deadline while the redirect hop queues for its host', async () => {
          const limits = { resolver, perHostConcurrency: 1, timeoutMs: 500, hostWaitTimeoutMs: 5_000 };
          const slow = Array.from({ length: 3 }, () => fetchPage(at('b.test', '/slow'), options(limits)));
          await waitFor(() => paths().includes('/slow'));
          const page = await fetchPage(at('a.test', '/to-b'), options(limits));
          assert.equal(page.finalUrl, at('b.test', '/fast'));
          await Promise.all(slow);
          assert.deepEqual(paths(), ['/slow', '/to-b', '/slow', '/slow', '/fast']);
        });

        it('fails host-busy when the redirect hop gets no slot within the wait limit', async () => {
          const holder = await hang({ resolver, perHostConcurrency: 1 }, at('b.test', '/hang'));
          try {
            const error = (await fetchPage(at('a.test', '/to-b'), options({ resolver, perHostConcurrency: 1, hostWaitTimeoutMs: 200 })).catch((e: unknown) => e)) as FetchError;
            assert.equal(error.code, 'host-busy');
            assert.match(error.message, /requests to b\.test in flight/);
            assert.deepEqual(paths(), ['/hang', '/to-b']);
          } finally {
            await holder.cancel();
          }
        });
      });

      it('ends a wait at once when the caller cancels', async () => {
        const holder = await hang({ perHostConcurrency: 1 });
        try {
          const controller = new AbortController();
          const started = Date.now();
          setTimeout(() => controller.abort(), 50);
          const error = (await fetchPage(queued.url('/fast'), options({ perHostConcurrency: 1, hostWaitTimeoutMs: 10_000, signal: controller.signal })).catch(
            (e: unknown) => e,
          )) as FetchError;
          assert.equal(error.code, 'timeout');
          assert.match(error.message, /cancelled/);
          assert.ok(Date.now() - started < 1_000, `the cancelled wait took ${Date.now() - started} ms`);
          assert.deepEqual(paths(), ['/hang']);
        } finally {
          await holder.cancel();
        }
      });
    });

    it('frees the per-host slot when a fetch fails', async () => {
      const one = options({ perHostConcurrency: 1 });
      for (const path of ['/404', '/500', '/pdf', '/endless']) {
        await fetchPage(site.url(path), one).catch(() => undefined);
      }
      assert.equal((await fetchPage(site.url('/page'), one)).status, 200);
    });

    it('never deadlocks when concurrent bodies exceed the instance memory budget', async () => {
      // Each page is larger than the whole budget: they are read one after another, oldest first.
      const pages = await Promise.all(Array.from({ length: 4 }, () => fetchPage(site.url('/gzip-bomb'), options({ maxBytes: 5 * 1024 * 1024, bodyBudgetBytes: 64 * 1024 }))));
      assert.deepEqual(
        pages.map((page) => page.bytes),
        Array.from({ length: 4 }, () => bomb.length),
      );
    });
  });

  describe('content types', () => {
    for (const path of ['/pdf', '/json', '/image', '/plain']) {
      it(`refuses ${path.slice(1)} before reading it`, async () => {
        const error = await failure(path);
        assert.equal(error.code, 'unsupported-content-type');
        assert.equal(error.retryable, false);
      });
    }

    it('stops the transfer of a refused type', async () => {
      await failure('/pdf');
      await waitFor(() => abandoned.includes('/pdf'));
    });

    it('refuses an untyped body that does not look like HTML', async () => {
      assert.equal((await failure('/untyped-text')).code, 'unsupported-content-type');
    });

    it('refuses content encodings it cannot decode', async () => {
      assert.equal((await failure('/compress')).code, 'unsupported-content-type');
    });

    it('treats a corrupt compressed body as a transient transfer failure', async () => {
      const error = await failure('/corrupt-gzip');
      assert.equal(error.code, 'connection-failed');
      assert.equal(error.retryable, true);
    });
  });

  describe('failure classes', () => {
    for (const [path, code, retryable] of [
      ['/404', 'http-404', false],
      ['/410', 'http-410', false],
      ['/403', 'http-403', false],
      ['/408', 'http-408', true],
      ['/500', 'http-500', true],
      ['/502', 'http-502', true],
      ['/429-bare', 'http-429', true],
    ] as const) {
      it(`${code} is ${retryable ? 'transient' : 'permanent'}`, async () => {
        const error = await failure(path);
        assert.equal(error.code, code);
        assert.equal(error.retryable, retryable);
        assert.equal(error.retryAfterMs, undefined);
      });
    }

    it('carries Retry-After in seconds', async () => {
      const error = await failure('/503-seconds');
      assert.equal(error.code, 'http-503');
      assert.equal(error.retryable, true);
      assert.equal(error.retryAfterMs, 120_000);
      assert.deepEqual(JSON.parse(JSON.stringify(error)), { code: 'http-503', message: error.message, retryable: true, retryAfterMs: 120_000 });
    });

    it('carries Retry-After given as an HTTP date', async () => {
      const error = await failure('/429-date');
      assert.equal(error.code, 'http-429');
      assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs > 3_500_000 && error.retryAfterMs <= 3_600_000, String(error.retryAfterMs));
    });

    it('reads Retry-After as seconds or a date, never negative, and ignores nonsense', () => {
      const now = Date.parse('2026-11-28T12:00:00Z');
      assert.equal(parseRetryAfter('0', now), 0);
      assert.equal(parseRetryAfter(' 90 ', now), 90_000);
      assert.equal(parseRetryAfter('Sat, 28 Nov 2026 12:02:00 GMT', now), 120_000);
      assert.equal(parseRetryAfter('Sat, 28 Nov 2026 11:00:00 GMT', now), 0);
      assert.equal(parseRetryAfter('soon', now), undefined);
      assert.equal(parseRetryAfter('-5', now), undefined);
      assert.equal(parseRetryAfter(undefined, now), undefined);
    });

    it('reports a refused connection as transient', async () => {
      const closed = await startSite(() => undefined);
      await closed.close();
      const error = (await fetchPage(closed.url('/'), options()).catch((e: unknown) => e)) as FetchError;
      assert.equal(error.code, 'connection-failed');
      assert.equal(error.retryable, true);
      assert.match(error.message, /ECONNREFUSED/);
    });

    it('reports a name that does not resolve as a transient DNS failure', async () => {
      const resolver = async (): Promise<string[]> => {
        throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
      };
      const error = (await fetchPage('http://news.example/', options({ resolver })).catch((e: unknown) => e)) as FetchError;
      assert.equal(error.code, 'dns-failure');
      assert.equal(error.retryable, true);
      assert.match(error.message, /news\.example could not be resolved \(EAI_AGAIN\)/);
    });

    it('counts a resolver that never answers against the deadline', async () => {
      const resolver = (): Promise<string[]> => new Promise(() => undefined);
      const error = (await fetchPage('http://news.example/', options({ resolver, timeoutMs: 200 })).catch((e: unknown) => e)) as FetchError;
      assert.equal(error.code, 'timeout');
    });
  });
});

/** Waits (bounded) for something the server observes after the client has already returned. */
async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) assert.fail('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
