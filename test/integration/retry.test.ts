/**
 * POST /portfolios/{id}/retry on the local stack: a page that was gone comes back; retrying the
 * portfolio's failures queues it again through Pub/Sub and the scraper, and it ends done, counted
 * as a new round; a feed whose fetch failed is queued again the same way and yields its articles.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { memoryLogger } from '../../functions/src/log';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { forEachLane } from '../helpers/lanes';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

forEachLane('retry failed articles end to end', (lane) => {
  let stack: LocalStack;
  let site: Server;
  let origin = '';
  let back = false;
  let feedBack = false;
  const hits = new Map<string, number>();

  before(async function () {
    this.timeout(60_000);
    site = createServer((request, response) => {
      const path = request.url ?? '/';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path === '/feed.xml') {
        if (!feedBack) response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>No feed yet</h1>');
        else response.writeHead(200, { 'content-type': 'application/rss+xml' }).end(`<?xml version="1.0"?><rss version="2.0"><channel><title>Writer</title><item><title>From the feed</title><link>${origin}/from-feed</link></item></channel></rss>`);
        return;
      }
      if (path === '/comes-back' && !back) {
        response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not yet</h1>');
        return;
      }
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><html><head><title>Page ${path}</title></head><body><article><h1>Page ${path}</h1><p>${'words '.repeat(300)}</p></article></body></html>`);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    stack = await startLocalStack({ running: lane.emulators(), apiPort: 0, backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 }, deps: { log: memoryLogger().log } });
  });

  after(async () => {
    await stack?.stop();
    site?.closeAllConnections();
    await new Promise((resolve) => site?.close(resolve));
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked field by field
  async function view(portfolioId: string): Promise<any> {
    return (await fetch(`${stack.apiUrl}/portfolios/${portfolioId}`)).json();
  }

  async function settled(portfolioId: string): Promise<{ counts: Record<string, number>; articles: { url: string; status: string; attempts: number; title: string | null; error?: { code: string } }[] }> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const body = await view(portfolioId);
      if (body.counts.queued === 0 || Date.now() > deadline) return body;
      await sleep(150);
    }
  }

  it('queues the failed article again and it ends done, as a new round', async function () {
    this.timeout(60_000);
    const submitted = await fetch(`${stack.apiUrl}/portfolios`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ urls: [`${origin}/fine`, `${origin}/comes-back`] }),
    });
    assert.equal(submitted.status, 202);
    const { portfolioId } = (await submitted.json()) as { portfolioId: string };
    const first = await settled(portfolioId);
    assert.deepEqual(first.counts, { queued: 0, done: 1, failed: 1 });
    assert.equal(first.articles[1]?.error?.code, 'http-404');

    back = true;
    const retry = await fetch(`${stack.apiUrl}/portfolios/${portfolioId}/retry`, { method: 'POST' });
    assert.equal(retry.status, 202);
    assert.equal(((await retry.json()) as { queued: number }).queued, 1);
    const second = await settled(portfolioId);
    assert.deepEqual(second.counts, { queued: 0, done: 2, failed: 0 });
    assert.equal(second.articles[1]?.title, 'Page /comes-back');
    assert.equal(second.articles[1]?.attempts, 1, 'a new round counts its attempts afresh');
    assert.equal(hits.get('/fine'), 1, 'the done article was not fetched again');
    assert.equal(hits.get('/comes-back'), 2);

    // Nothing failed any more: a retry now queues nothing.
    const idle = await fetch(`${stack.apiUrl}/portfolios/${portfolioId}/retry`, { method: 'POST' });
    assert.equal(((await idle.json()) as { queued: number }).queued, 0);
  });

  it('queues a failed feed again: it is expanded and its article is read; asking again while it runs queues nothing more', async function () {
    this.timeout(60_000);
    const submitted = await fetch(`${stack.apiUrl}/portfolios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ feeds: [`${origin}/feed.xml`] }) });
    assert.equal(submitted.status, 202);
    const { portfolioId } = (await submitted.json()) as { portfolioId: string };
    const feedSettled = async (): Promise<{ counts: Record<string, number>; feeds: { status: string; added: number; error?: { code: string } }[]; articles: { url: string; status: string }[] }> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const body = await view(portfolioId);
        if ((body.feeds[0].status !== 'queued' && body.counts.queued === 0) || Date.now() > deadline) return body;
        await sleep(150);
      }
    };
    const failed = await feedSettled();
    assert.equal(failed.feeds[0]?.status, 'failed');
    assert.equal(failed.feeds[0]?.error?.code, 'http-404');
    assert.equal(failed.articles.length, 0);

    feedBack = true;
    const retry = await fetch(`${stack.apiUrl}/portfolios/${portfolioId}/retry`, { method: 'POST', headers: { accept: 'application/json' } });
    assert.equal(retry.status, 202);
    const answer = (await retry.json()) as { queued: number; feedsQueued: number };
    assert.deepEqual([answer.queued, answer.feedsQueued], [0, 1]);
    // At once again: the feed is queued (in flight or done), not failed, so nothing more is sent.
    const again = (await (await fetch(`${stack.apiUrl}/portfolios/${portfolioId}/retry`, { method: 'POST' })).json()) as { feedsQueued: number };
    assert.equal(again.feedsQueued, 0);

    const done = await feedSettled();
    assert.equal(done.feeds[0]?.status, 'done');
    assert.equal(done.feeds[0]?.added, 1);
    assert.deepEqual(done.articles.map((article) => [article.url, article.status]), [[`${origin}/from-feed`, 'done']]);
    assert.equal(hits.get('/feed.xml'), 2, 'the feed was fetched once per round');
  });
});
