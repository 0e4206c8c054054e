/**
 * The web pages in a real headless Chromium against the local stack and the demo site, used as a
 * person would: submit the demo URLs through the form with the keyboard, watch the cards arrive and
 * settle, read the 404's reason, click Retry failed, download the CSV; and the XSS case (a `<script>`
 * title renders as text). Screenshots go to test-output/web/ (UPDATE_SCREENSHOT=1 also refreshes the
 * README's docs/portfolio-page.png).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { memoryLogger } from '../../functions/src/log';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { inPage, launchBrowser, outputDir, waitInPage } from './browser';

// The client libraries otherwise probe for a GCE metadata server.
process.env.METADATA_SERVER_DETECTION ??= 'none';

const XSS_TITLE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">Hostile title';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('web pages in a real browser', function () {
  this.timeout(180_000);
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;
  let site: Server;
  let origin = '';
  let cameBack = false;
  const problems: string[] = [];

  before(async function () {
    this.timeout(120_000);
    // A site of our own beside the demo: a hostile title, and a page that is gone until it comes back.
    site = createServer((request, response) => {
      if (request.url === '/hostile') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(`<!doctype html><html><head><title>${XSS_TITLE.replace(/</g, '&lt;')}</title><meta property="og:title" content="${XSS_TITLE.replace(/"/g, '&quot;')}"></head><body><article><h1>x</h1><h2>&lt;script&gt;alert(1)&lt;/script&gt; heading</h2><p>${'word '.repeat(400)}</p></article></body></html>`);
      } else if (request.url === '/comes-back' && cameBack) {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(`<!doctype html><html><head><title>It came back</title></head><body><article><h1>It came back</h1><p>${'word '.repeat(300)}</p></article></body></html>`);
      } else {
        response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not found</h1>');
      }
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    [stack, browser] = await Promise.all([
      startLocalStack({ emulators: 'embedded', apiPort: 0, demo: true, backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 }, deps: { log: memoryLogger().log } }),
      launchBrowser(),
    ]);
    page = await browser.newPage();
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`));
    page.on('console', (message) => {
      // A CSP violation would be reported here; an image the demo site does not have is expected.
      if (message.type() === 'error' && !/Failed to load resource.*404/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    site?.closeAllConnections();
    await new Promise((resolve) => site?.close(resolve));
  });

  let portfolioUrl = '';
  const card = (path: string): string => `[...document.querySelectorAll('li.card')].find((li) => li.querySelector('.title a')?.getAttribute('href') === ${JSON.stringify(path)})`;

  it('submits the demo URLs through the form with the keyboard and lands on the portfolio page', async () => {
    await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 1 });
    await page.goto(`${stack.apiUrl}/`);
    const demo = stack.demo!;
    const urls = [...demo.urls.slice(0, 5), `${demo.baseUrl}/broken`, `${origin}/hostile`, `${origin}/comes-back`];
    await page.focus('#urls');
    await page.keyboard.type(urls.join('\n'));
    await page.keyboard.press('Tab'); // to the feeds box
    await page.keyboard.press('Tab'); // to the name
    await page.keyboard.type('Ada Example, collected');
    await page.keyboard.press('Tab'); // to the button
    assert.equal(await inPage(page, 'document.activeElement.textContent'), 'Build the portfolio');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    portfolioUrl = page.url();
    assert.match(portfolioUrl, /\/portfolios\/[A-Za-z0-9]+$/);
    assert.equal(await inPage(page, 'document.querySelector("h1").textContent'), 'Ada Example, collected');
    assert.equal(await inPage(page, 'document.querySelectorAll("li.card").length'), 8);
  });

  it('updates itself until every article is done or failed, then stops', async () => {
    await waitInPage(page, 'document.body.dataset.settled === "true"', 90_000);
    const counts = await inPage<string>(page, 'document.querySelector(".counts").textContent');
    assert.equal(counts, '6 done · 0 pending · 2 failed');
    assert.equal(await inPage(page, '[document.querySelector("#progress").value, document.querySelector("#progress").max].join("/")'), '8/8');
    assert.equal(await inPage(page, 'document.querySelectorAll("li.card.done").length'), 6);
  });

  it('shows why the 404 failed, in words', async () => {
    const reason = await inPage<string>(page, `${card(`${stack.demo!.baseUrl}/broken`)}.querySelector('.reason').textContent`);
    assert.match(reason, /^Failed The page was not found \(404\): it may have moved or been deleted\.$/);
  });

  it('renders a hostile title and outline as text, running nothing', async () => {
    const hostile = card(`${origin}/hostile`);
    assert.equal(await inPage(page, `${hostile}.querySelector('.title a').textContent`), XSS_TITLE);
    assert.equal(await inPage(page, `${hostile}.querySelectorAll('.title script, .title img').length`), 0);
    assert.match(await inPage<string>(page, `${hostile}.querySelector('.outline').textContent`), /<script>alert\(1\)<\/script> heading/);
    assert.equal(await inPage(page, 'typeof window.__xss'), 'undefined');
    // Reloaded, the server's own rendering is just as inert.
    await page.reload();
    assert.equal(await inPage(page, `${hostile}.querySelector('.title a').textContent`), XSS_TITLE);
    assert.equal(await inPage(page, 'typeof window.__xss'), 'undefined');
    assert.deepEqual(problems, []);
  });

  it('shows each article’s own banner, and the placeholder only where there is none or it is broken', async () => {
    const demo = stack.demo!;
    await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
    // Lazy images load as they come into view.
    for (let index = 0; index < 8; index += 1) {
      await page.evaluate(`document.querySelectorAll('li.card')[${index}].scrollIntoView()`);
      await sleep(100);
    }
    await page.evaluate('window.scrollTo(0, 0)');
    for (const n of [1, 2, 3]) {
      await waitInPage(page, `${card(`${demo.baseUrl}/articles/${n}`)}.querySelector('.banner img')?.naturalWidth > 0`, 10_000);
      assert.match(await inPage<string>(page, `${card(`${demo.baseUrl}/articles/${n}`)}.querySelector('.banner img').alt`), /^Banner image of /);
    }
    // Article 4 has no image; article 5's image is missing on the site: both show the placeholder.
    for (const n of [4, 5]) {
      await waitInPage(page, `!!${card(`${demo.baseUrl}/articles/${n}`)}.querySelector('.banner .placeholder[role="img"][aria-label]')`, 10_000);
    }
    assert.equal(await inPage(page, `[...document.images].filter((img) => !img.alt).length`), 0, 'every image has alt text');
  });

  it('works in a phone-width window', async () => {
    await page.setViewport({ width: 360, height: 800, deviceScaleFactor: 1 });
    assert.ok(await inPage<boolean>(page, 'document.documentElement.scrollWidth <= window.innerWidth'), 'no sideways scrolling');
    await page.screenshot({ path: join(outputDir(), 'portfolio-narrow.png') });
  });

  it('queues the failures again with Retry failed, and the page follows them to the end', async () => {
    cameBack = true;
    await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
    // Reach the button with the keyboard, as a person without a mouse would.
    await page.evaluate('document.activeElement.blur(); window.scrollTo(0, 0)');
    let reached = false;
    for (let presses = 0; presses < 30 && !reached; presses += 1) {
      await page.keyboard.press('Tab');
      reached = (await inPage<string>(page, 'document.activeElement.textContent')) === 'Retry failed';
    }
    assert.ok(reached, 'Retry failed is reachable with Tab');
    await page.keyboard.press('Enter');
    await waitInPage(page, `${card(`${origin}/comes-back`)}?.dataset.status === 'done'`, 60_000);
    await waitInPage(page, 'document.body.dataset.settled === "true"', 60_000);
    assert.equal(await inPage(page, `${card(`${origin}/comes-back`)}.querySelector('.title a').textContent`), 'It came back');
    assert.equal(await inPage(page, 'document.querySelector(".counts").textContent'), '7 done · 0 pending · 1 failed');
    assert.match(await inPage<string>(page, 'document.querySelector("#live").textContent'), /Finished: 7 done, 1 failed\./);
  });

  it('downloads the CSV from the page', async () => {
    const dir = outputDir('downloads');
    for (const file of readdirSync(dir)) rmSync(join(dir, file));
    const session = await page.createCDPSession();
    await session.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir });
    await page.click('a[href$=".csv"]');
    const deadline = Date.now() + 15_000;
    let file: string | undefined;
    while (Date.now() < deadline) {
      file = readdirSync(dir).find((name) => name.endsWith('.csv'));
      if (file) break;
      await sleep(100);
    }
    assert.ok(file, 'a CSV file was downloaded');
    assert.equal(file, 'Ada-Example-collected.csv');
    const text = readFileSync(join(dir, file), 'utf8');
    const lines = text.replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    assert.match(lines[0] ?? '', /^url,status,title,publishedAt,readingTimeMinutes,bannerImage,outline,attempts,error\.code,error\.message,error\.at/);
    assert.ok(text.includes(`${stack.demo!.baseUrl}/broken,failed,`), 'the failed article is a row');
    assert.ok(text.includes('Designing idempotent message handlers'), 'a done article is a row');
  });

  it('without JavaScript: shows the counts, and Retry failed comes back to the page (not JSON)', async () => {
    const plain = await browser.newPage();
    try {
      await plain.setJavaScriptEnabled(false);
      await plain.goto(portfolioUrl);
      assert.equal(await inPage(plain, 'document.querySelector("#tally").textContent'), '7 done · 0 pending · 1 failed, of 8.');
      // Shown by the stylesheet alone while a card is failed.
      assert.equal(await inPage(plain, 'getComputedStyle(document.querySelector("form.retry")).display'), 'block');
      const [response] = await Promise.all([plain.waitForNavigation(), plain.click('form.retry button')]);
      assert.equal(plain.url(), portfolioUrl);
      assert.match(response?.headers()['content-type'] ?? '', /^text\/html/);
      assert.equal(response?.request().redirectChain()[0]?.response()?.status(), 303);
      assert.equal(await inPage(plain, 'document.querySelector("h1").textContent'), 'Ada Example, collected');
      // The round shows: the failed article is pending again (or already failed again).
      assert.match(await inPage<string>(plain, `${card(`${stack.demo!.baseUrl}/broken`)}.dataset.status`), /^(queued|failed)$/);
    } finally {
      await plain.close();
    }
  });

  it('takes a screenshot of the finished page', async () => {
    await page.setViewport({ width: 1100, height: 1000, deviceScaleFactor: 1 });
    await page.evaluate('window.scrollTo(0, 0)');
    const path = join(outputDir(), 'portfolio.png');
    await page.screenshot({ path });
    assert.ok(existsSync(path));
    if (process.env.UPDATE_SCREENSHOT === '1') {
      await page.screenshot({ path: join(__dirname, '..', '..', 'docs', 'portfolio-page.png'), clip: { x: 0, y: 0, width: 1100, height: 1000 } });
    }
    console.log(`      screenshots: ${outputDir()}`);
    assert.deepEqual(problems, []);
  });
});
