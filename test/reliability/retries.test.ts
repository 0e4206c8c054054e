/**
 * Retries that respect the world, through the local stack on each lane (API, Pub/Sub push, the
 * scraper, the recorder, Firestore, a loopback site): one URL is fetched once at a time however many
 * portfolios and duplicate deliveries ask for it, and a page's Retry-After (seconds or an HTTP date)
 * holds every request to it — and after a 429 to its host — until the time it names.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { memoryLogger } from '../../functions/src/log';
import { canonicalizeUrl } from '../../functions/src/urls';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { forEachLane } from '../helpers/lanes';
import { startRetrySite, type RetrySite } from './retry-site';

interface Entry {
  url: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  waitingFor: string | null;
  error?: { code: string };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

forEachLane('retries that respect the world', (lane) => {
  let stack: LocalStack;
  const sites: RetrySite[] = [];
  const logs = memoryLogger();

  async function site(options: { latencyMs?: number } = {}): Promise<RetrySite> {
    const started = await startRetrySite(options);
    sites.push(started);
    return started;
  }

  async function submit(urls: string[]): Promise<string> {
    const response = await fetch(`${stack.apiUrl}/portfolios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls }) });
    const body = (await response.json()) as { portfolioId: string };
    assert.equal(response.status, 202, JSON.stringify(body));
    return body.portfolioId;
  }

  async function view(portfolioId: string): Promise<Entry[]> {
    const response = await fetch(`${stack.apiUrl}/portfolios/${portfolioId}`);
    assert.equal(response.status, 200);
    return ((await response.json()) as { articles: Entry[] }).articles;
  }

  /** Polls until every entry of every portfolio is terminal; `each` sees every poll. */
  async function settle(portfolioIds: string[], deadlineMs: number, each?: (entries: Entry[]) => void): Promise<Entry[][]> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const views = await Promise.all(portfolioIds.map(view));
      for (const entries of views) each?.(entries);
      if (views.every((entries) => entries.every((entry) => entry.status !== 'queued')) || Date.now() > deadline) return views;
      await sleep(150);
    }
  }

  before(async function () {
    this.timeout(60_000);
    stack = await startLocalStack({
      running: lane.emulators(),
      apiPort: 0,
      backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      delayBackoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      maxDeliveryAttempts: 5,
      deps: { log: logs.log },
    });
  });

  after(async () => {
    await stack?.stop();
    for (const started of sites) await started.stop();
  });

  it('fetches a URL that always fails 5 times in all, however many portfolios ask for it, and fails it in each', async function () {
    this.timeout(120_000);
    const failing = await site();
    failing.script('/always-500', { status: 500 });
    const portfolios: string[] = [];
    for (let index = 0; index < 12; index++) portfolios.push(await submit([failing.url('/always-500')]));
    const views = await settle(portfolios, 100_000);
    for (const [entry] of views) {
      assert.equal(entry?.status, 'failed', JSON.stringify(entry));
      assert.equal(entry?.error?.code, 'dead-lettered');
      assert.equal(entry?.attempts, 5);
    }
    assert.equal(failing.requests('/always-500').length, 5, 'requests to the page');
  });

  it('makes one fetch for 20 copies of one delivery arriving at once', async function () {
    this.timeout(60_000);
    const slow = await site({ latencyMs: 400 });
    const canonical = canonicalizeUrl(slow.url('/duplicated'));
    assert.ok(canonical.ok);
    const message = { url: slow.url('/duplicated'), canonicalUrl: canonical.canonicalUrl, urlKey: canonical.urlKey, portfolioId: `dup-${randomBytes(3).toString('hex')}` };
    const envelope = JSON.stringify({
      subscription: `projects/${stack.projectId}/subscriptions/${stack.names.pushSubscription}`,
      message: { data: Buffer.from(JSON.stringify(message)).toString('base64'), messageId: 'dup-1', publishTime: new Date().toISOString() },
    });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async () => (await fetch(`${stack.scraperUrl}/`, { method: 'POST', headers: { 'content-type': 'application/json', ...stack.pushHeaders('scrapeArticle') }, body: envelope })).status),
    );
    assert.deepEqual(statuses, Array.from({ length: 20 }, () => 204));
    assert.equal(slow.requests('/duplicated').length, 1, 'requests to the page');
    const stored = (await stack.clients.firestore.collection(`${stack.config.collectionPrefix}articles`).doc(canonical.urlKey).get()).data();
    assert.equal(stored?.status, 'done');
    assert.equal(stored?.attempts, 1);
  });

  it('asks neither a page that answered 429 with Retry-After nor its host again before that time, and says so in the view', async function () {
    this.timeout(90_000);
    const limited = await site();
    limited.script('/a', { status: 429, retryAfter: '3' }, { status: 200 });
    const first = await submit([limited.url('/a')]);
    while (limited.requests('/a').length === 0) await sleep(50);
    const second = await submit([limited.url('/b')]);
    const seen: Entry[] = [];
    const views = await settle([first, second], 60_000, (entries) => seen.push(...entries.filter((entry) => entry.status === 'queued' && entry.nextAttemptAt !== null)));
    assert.deepEqual(views.map(([entry]) => entry?.status), ['done', 'done']);
    const [asked, askedAgain] = limited.requests('/a');
    assert.ok(asked !== undefined && askedAgain !== undefined, 'the page was asked twice');
    assert.ok(askedAgain - asked >= 3000, `asked again after ${askedAgain - asked} ms`);
    const other = limited.requests('/b')[0];
    assert.ok(other !== undefined && other - asked >= 3000, `another page of the host asked ${other === undefined ? 'never' : `after ${other - asked} ms`}`);
    assert.equal(views[0]?.[0]?.attempts, 2, 'the 429 and the success: waiting spends no attempt');
    const host = new URL(limited.origin).host;
    assert.ok(seen.some((entry) => entry.waitingFor === host), `the view said what it waits for: ${JSON.stringify(seen.slice(0, 3))}`);
  });

  it('does not ask a page that answered 503 with an HTTP-date Retry-After again before that date', async function () {
    this.timeout(90_000);
    const overloaded = await site();
    const until = new Date(Math.ceil((Date.now() + 3000) / 1000) * 1000);
    overloaded.script('/c', { status: 503, retryAfter: until.toUTCString() }, { status: 200 });
    const portfolio = await submit([overloaded.url('/c')]);
    const [[entry] = []] = await settle([portfolio], 60_000);
    assert.equal(entry?.status, 'done');
    const [, askedAgain] = overloaded.requests('/c');
    assert.ok(askedAgain !== undefined && askedAgain >= until.getTime(), `asked again ${askedAgain === undefined ? 'never' : `${askedAgain - until.getTime()} ms after the date`}`);
  });
});
