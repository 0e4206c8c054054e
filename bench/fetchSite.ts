/**
 * The loopback site the fetch benchmark reads, run as a child process so that the benchmark's memory
 * figures are the fetcher's alone. Sends `{ port }` to the parent once listening; exits with it.
 *   /article/N  a ~25 KB synthetic article, gzip-compressed (as most sites serve HTML)
 *   /huge       20 MB of HTML, chunked (no Content-Length): the fetcher must cut it at its cap
 *   /large      4 MB of HTML with Content-Length: under the default cap, read in full
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

function article(n: number): string {
  const paragraphs = Array.from(
    { length: 120 },
    (_, i) => `<p>Paragraph ${i} of article ${n}. The quick brown fox jumps over the lazy dog while the committee debates the budget for another fiscal year, and nobody notices.</p>${i % 15 === 0 ? `<h2>Section ${i / 15}</h2>` : ''}`,
  ).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Article ${n} | Bench Times</title>
<meta property="og:title" content="Article ${n}"><meta property="article:published_time" content="2026-03-${String((n % 28) + 1).padStart(2, '0')}T10:00:00Z">
<meta property="og:image" content="https://bench.example/img/${n}.jpg"><link rel="canonical" href="https://bench.example/article/${n}"></head>
<body><header><nav>${'<a href="/x">nav</a>'.repeat(50)}</nav></header><main><article><h1>Article ${n}</h1>${paragraphs}</article></main><footer>footer</footer></body></html>`;
}

const templates = Array.from({ length: 10 }, (_, n) => zlib.gzipSync(article(n)));
const filler = Buffer.from(`<p>${'filler text '.repeat(5400)}</p>\n`.slice(0, 64 * 1024));

const server = http.createServer((req, res) => {
  const path = req.url ?? '/';
  const match = /^\/article\/(\d+)$/.exec(path);
  if (match) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip' }).end(templates[Number(match[1]) % templates.length]);
    return;
  }
  if (path === '/huge' || path === '/large') {
    const total = path === '/huge' ? 20 * 1024 * 1024 : 4 * 1024 * 1024;
    res.writeHead(200, { 'content-type': 'text/html', ...(path === '/large' ? { 'content-length': String(total) } : {}) });
    let sent = 0;
    const pump = (): void => {
      while (!res.destroyed && sent < total) {
        const chunk = filler.subarray(0, Math.min(filler.length, total - sent));
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
    return;
  }
  res.writeHead(404).end();
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
