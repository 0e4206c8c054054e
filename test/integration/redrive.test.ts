/**
 * Redrive on the local stack: URLs that always failed are dead-lettered (recorded failed, and kept on
 * the audit subscription); once the site works again, redriving one portfolio republishes only its
 * dead letters, which then end done, and leaves the other portfolio's on the subscription.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { memoryLogger } from '../../functions/src/log';
import { redrive } from '../../functions/src/redrive';
import { AUDIT_ACK_DEADLINE_SECONDS } from '../../emulator/provision';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { forEachLane } from '../helpers/lanes';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

forEachLane('redrive dead letters end to end', (lane) => {
  let stack: LocalStack;
  let site: Server;
  let origin = '';
  let healthy = false;

  before(async function () {
    this.timeout(60_000);
    site = createServer((request, response) => {
      if (!healthy) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end('down');
        return;
      }
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><html><head><title>Back ${request.url}</title></head><body><article><h1>Back</h1><p>${'text '.repeat(200)}</p></article></body></html>`);
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
  async function settled(portfolioId: string, deadlineMs: number): Promise<any> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const body = (await (await fetch(`${stack.apiUrl}/portfolios/${portfolioId}`)).json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      if (body.counts.queued === 0 || Date.now() > deadline) return body;
      await sleep(250);
    }
  }

  async function submit(path: string): Promise<string> {
    const response = await fetch(`${stack.apiUrl}/portfolios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls: [`${origin}${path}`] }) });
    assert.equal(response.status, 202);
    return ((await response.json()) as { portfolioId: string }).portfolioId;
  }

  it('republishes only the chosen portfolio’s dead letters, which then end done', async function () {
    this.timeout(200_000);
    const [mine, theirs] = [await submit('/mine'), await submit('/theirs')];
    for (const id of [mine, theirs]) {
      const view = await settled(id, 60_000);
      assert.equal(view.articles[0].status, 'failed', JSON.stringify(view.articles[0]));
      assert.equal(view.articles[0].error.code, 'dead-lettered');
    }
    healthy = true;
    // The scraper records the failure on the last fetch; Pub/Sub dead-letters the message after that
    // nack (the official emulator about 3 s later), so wait until the audit subscription holds it.
    // A dry run that ends just as the emulator sends the message on its stream leaves it leased for
    // the audit subscription's ack deadline (seen on the official emulator under load), so keep
    // trying for longer than that.
    const dryRun = () => redrive(stack.clients.pubsub, { portfolioId: mine, topic: stack.names.topic, subscription: stack.names.deadLetterAuditSubscription, idleMs: 1500, dryRun: true });
    let dry = await dryRun();
    for (const deadline = Date.now() + (AUDIT_ACK_DEADLINE_SECONDS + 15) * 1000; dry.found === 0 && Date.now() < deadline; ) dry = await dryRun();
    assert.deepEqual([dry.found, dry.republished], [1, 0]);
    const result = await redrive(stack.clients.pubsub, { portfolioId: mine, topic: stack.names.topic, subscription: stack.names.deadLetterAuditSubscription, idleMs: 1500 });
    assert.equal(result.republished, 1, 'the dry run left it on the subscription');
    assert.ok(result.left >= 1, 'the other portfolio’s dead letter was seen and left');
    const deadline = Date.now() + 30_000;
    let view = await settled(mine, 1000);
    while (view.articles[0].status !== 'done' && Date.now() < deadline) {
      await sleep(250);
      view = await settled(mine, 1000);
    }
    assert.equal(view.articles[0].status, 'done');
    assert.equal(view.articles[0].title, 'Back /mine');
    assert.equal((await settled(theirs, 1000)).articles[0].status, 'failed', 'the other portfolio is untouched');
    // Nothing of mine is left to replay.
    const again = await redrive(stack.clients.pubsub, { portfolioId: mine, topic: stack.names.topic, subscription: stack.names.deadLetterAuditSubscription, idleMs: 1500, dryRun: true });
    assert.equal(again.found, 0);
  });
});
