import assert from 'node:assert/strict';
import type { ArticleRecord } from '../../../functions/src/store';
import { queuedArticle } from '../../../functions/src/store';
import { terminalBitmap } from '../../../functions/src/portfolio/terminal';
import { urlMessage } from '../fakes';
import { serveApi, type ApiHarness } from '../apiHarness';

const at = new Date('2026-03-01T11:00:00Z');

/** A portfolio of `urls` with the given stored articles (undefined = not written yet). */
function seed(harness: ApiHarness, urls: string[], records: (Partial<ArticleRecord> | undefined)[], portfolioId = 'p1'): string[] {
  const messages = urls.map((url) => urlMessage(url, portfolioId));
  harness.store.portfolios.set(portfolioId, { portfolioId, name: 'Ada, "the" writer', createdAt: at, urls: messages.map((m) => m.canonicalUrl), urlKeys: messages.map((m) => m.urlKey) });
  messages.forEach((message, index) => {
    const record = records[index];
    if (record) harness.store.articles.set(message.urlKey, { ...queuedArticle(message, at), terminalAt: record.status === 'queued' ? null : at, ...record });
  });
  return messages.map((m) => m.urlKey);
}

const failed = (code: string): Partial<ArticleRecord> => ({ status: 'failed', attempts: 1, lastError: { code, message: `It failed: ${code}.`, at } });

describe('portfolio routes: retry, export, polls (through functions-framework)', () => {
  let harness: ApiHarness;
  beforeEach(async () => {
    harness = await serveApi();
  });
  afterEach(() => harness.close());

  const post = (path: string) => fetch(`${harness.base}${path}`, { method: 'POST' });
  const getJson = async (path: string) => {
    const response = await fetch(`${harness.base}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('queues every failed article again, once while that round is in flight, and again after it failed anew', async () => {
    const keys = seed(harness, ['https://example.com/ok', 'https://example.com/gone', 'https://example.com/down', 'https://example.com/new'], [
      { status: 'done', title: 'OK', attempts: 1 },
      failed('http-404'),
      failed('dead-lettered'),
      undefined,
    ]);
    const first = await post('/portfolios/p1/retry');
    assert.equal(first.status, 202);
    const body = (await first.json()) as Record<string, unknown>;
    assert.deepEqual({ ...body, statusUrl: undefined }, { portfolioId: 'p1', queued: 2, alreadyQueued: 0, feedsQueued: 0, statusUrl: undefined });
    assert.match(String(body.statusUrl), /\/portfolios\/p1$/);
    assert.deepEqual(harness.published.map((m) => m.urlKey), [keys[1], keys[2]]);
    assert.deepEqual(harness.published[0], { url: 'https://example.com/gone', canonicalUrl: 'https://example.com/gone', urlKey: keys[1], portfolioId: 'p1' });

    // In flight: the view shows them queued again, and asking again queues nothing.
    const view = await getJson('/portfolios/p1');
    assert.deepEqual(view.body.counts, { queued: 3, done: 1, failed: 0 });
    assert.equal(view.body.articles[1].error, undefined);
    harness.clock.now = new Date('2026-03-01T12:00:05Z');
    const again = await post('/portfolios/p1/retry');
    assert.equal(again.status, 202);
    assert.deepEqual(await again.json().then((b) => [(b as Record<string, number>).queued, (b as Record<string, number>).alreadyQueued]), [0, 2]);
    assert.equal(harness.published.length, 2);

    // The scraper picks one up and it fails again (after the round was asked): retryable again.
    const gone = harness.store.articles.get(keys[1]!)!;
    harness.store.articles.set(keys[1]!, { ...gone, terminalAt: new Date('2026-03-01T12:00:10Z') });
    harness.clock.now = new Date('2026-03-01T12:00:20Z');
    const third = (await (await post('/portfolios/p1/retry')).json()) as Record<string, number>;
    assert.deepEqual([third.queued, third.alreadyQueued], [1, 1]);
    assert.deepEqual(harness.published.map((m) => m.urlKey), [keys[1], keys[2], keys[1]]);
    // The one still in flight stays in the round: the view still shows it queued.
    assert.deepEqual((await getJson('/portfolios/p1')).body.counts, { queued: 3, done: 1, failed: 0 });
  });

  it('answers 202 with nothing queued when nothing failed, 404 for an unknown portfolio, 405 for GET', async () => {
    seed(harness, ['https://example.com/ok'], [{ status: 'done', attempts: 1 }]);
    const none = await post('/portfolios/p1/retry');
    assert.equal(none.status, 202);
    assert.equal(((await none.json()) as Record<string, number>).queued, 0);
    const unknown = await post('/portfolios/nope/retry');
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'portfolio-not-found');
    const wrong = await fetch(`${harness.base}/portfolios/p1/retry`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
  });

  it('answers 503 publish-failed naming what was not queued, and leaves it retryable', async () => {
    seed(harness, ['https://example.com/a', 'https://example.com/b'], [failed('http-404'), failed('http-410')]);
    harness.failPublishFor.add('https://example.com/b');
    const response = await post('/portfolios/p1/retry');
    assert.equal(response.status, 503);
    const { error } = (await response.json()) as { error: { code: string; details: { notQueued: string[]; queued: number } } };
    assert.equal(error.code, 'publish-failed');
    assert.deepEqual(error.details.notQueued, ['https://example.com/b']);
    harness.failPublishFor.clear();
    const again = (await (await post('/portfolios/p1/retry')).json()) as Record<string, number>;
    assert.deepEqual([again.queued, again.alreadyQueued], [1, 1]);
  });

  it('exports every view field as CSV: UTF-8, quoted where needed, formulas defused', async () => {
    seed(harness, ['https://example.com/a', 'https://example.com/b', 'https://example.com/c'], [
      { status: 'done', title: '=HYPERLINK("http://evil.example","click"), «Zürich»', outline: ['One, two', 'Three "quoted"'], readingTimeMinutes: 4, attempts: 1, bannerImage: 'https://example.com/i.png' },
      failed('http-404'),
      undefined,
    ]);
    const response = await fetch(`${harness.base}/portfolios/p1.csv`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(response.headers.get('content-disposition') ?? '', /^attachment; filename="Ada-the-writer\.csv"$/);
    const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await response.arrayBuffer());
    assert.ok(text.startsWith('\uFEFF'), 'starts with a byte-order mark');
    const rows = parseCsv(text.slice(1));
    const [header, ...data] = rows;
    assert.equal(data.length, 3);
    const view = (await getJson('/portfolios/p1')).body.articles as Record<string, unknown>[];
    for (const field of Object.keys(view[0]!)) assert.ok(header!.includes(field), `column ${field}`);
    for (const field of ['error.code', 'error.message', 'error.at']) assert.ok(header!.includes(field), `column ${field}`);
    const cell = (row: number, column: string) => data[row]![header!.indexOf(column)];
    assert.equal(cell(0, 'title'), `'=HYPERLINK("http://evil.example","click"), «Zürich»`);
    assert.equal(cell(0, 'outline'), 'One, two\nThree "quoted"');
    assert.equal(cell(0, 'readingTimeMinutes'), '4');
    assert.equal(cell(1, 'status'), 'failed');
    assert.equal(cell(1, 'error.code'), 'http-404');
    assert.equal(cell(2, 'status'), 'queued');
    assert.equal(cell(2, 'title'), '');
  });

  it('exports the view as a JSON file', async () => {
    seed(harness, ['https://example.com/a'], [{ status: 'done', title: 'A', attempts: 1 }]);
    const response = await fetch(`${harness.base}/portfolios/p1.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-disposition') ?? '', /filename="Ada-the-writer\.json"/);
    assert.deepEqual(await response.json(), (await getJson('/portfolios/p1')).body);
    assert.equal((await fetch(`${harness.base}/portfolios/nope.csv`)).status, 404);
  });

  it('reads only the articles a poll does not already hold as terminal', async () => {
    const urls = Array.from({ length: 10 }, (_, i) => `https://example.com/${i}`);
    seed(harness, urls, urls.map((_, i) => (i < 6 ? { status: i % 2 ? 'failed' : 'done', attempts: 1 } : undefined)));
    const reads: number[] = [];
    const getArticles = harness.store.getArticles.bind(harness.store);
    harness.store.getArticles = async (keys) => {
      reads.push(keys.length);
      return getArticles(keys);
    };
    const poll = await getJson(`/portfolios/p1?terminal=${terminalBitmap([0, 1, 2, 3, 4, 5], 10)}`);
    assert.equal(poll.status, 200);
    assert.deepEqual(reads, [4]);
    assert.equal(poll.body.total, 10);
    assert.deepEqual(poll.body.counts, { queued: 4, done: 0, failed: 0 });
    assert.deepEqual(poll.body.articles.map((a: { index: number }) => a.index), [6, 7, 8, 9]);
    assert.equal(poll.body.articles[0].url, 'https://example.com/6');
    const empty = await getJson(`/portfolios/p1?terminal=`);
    assert.equal(empty.body.articles.length, 10);
    for (const bad of ['%2B%2B', 'AAAAAAAA', 'A']) {
      const response = await getJson(`/portfolios/p1?terminal=${bad}`);
      assert.equal(response.status, 400, bad);
      assert.equal(response.body.error.code, 'invalid-terminal');
    }
  });
});

/** RFC 4180 rows (quoted cells may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 1;
    } else cell += char;
  }
  return rows;
}
