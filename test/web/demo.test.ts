/**
 * `npm start -- --demo`: the page's address is the first thing printed, and the demo site serves real
 * banner images, feeds and a sitemap, so a first visitor can try everything offline.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startDemoSite } from '../../emulator/demo-site';
import { parseFeed } from '../../functions/src/feeds/parse';

describe('the demo', () => {
  it('npm start -- --demo prints the page’s address first, and the page is served there', async function () {
    this.timeout(60_000);
    const child = spawn(process.execPath, ['--import', 'tsx', 'emulator/cli.ts', 'stack', '--demo', '--port', '0'], { env: { ...process.env, EMULATORS: 'embedded' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 45_000;
      while (!/Ctrl-C stops everything/.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`stack did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const first = output.split('\n')[0] ?? '';
      const pageUrl = /^Open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(first)?.[1];
      assert.ok(pageUrl, `first line: ${first}`);
      const page = await fetch(pageUrl, { headers: { accept: 'text/html' } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<form method="post" action="\/"/);
      assert.match(output, /Demo URLs, one per line for the form:\nhttp:\/\/127\.0\.0\.1:\d+\/articles\/1\n/);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('serves real PNG, JPEG and SVG banners, an RSS, Atom and JSON feed, a sitemap and a sitemap index', async () => {
    const demo = await startDemoSite();
    try {
      const bytes = async (path: string) => {
        const response = await fetch(`${demo.baseUrl}${path}`);
        return { type: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
      };
      const png = await bytes('/images/banner-1.png');
      assert.equal(png.type, 'image/png');
      assert.deepEqual([...png.body.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.deepEqual([png.body.readUInt32BE(16), png.body.readUInt32BE(20)], [480, 270]);
      const jpeg = await bytes('/images/banner-2.jpg');
      assert.equal(jpeg.type, 'image/jpeg');
      assert.deepEqual([...jpeg.body.subarray(0, 3)], [0xff, 0xd8, 0xff]);
      const svg = await bytes('/images/banner-3.svg');
      assert.equal(svg.type, 'image/svg+xml');
      assert.match(svg.body.toString('utf8'), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*role="img"/);
      assert.equal((await fetch(`${demo.baseUrl}/images/missing-banner.png`)).status, 404);
      const articles = [...demo.urls.slice(0, 5), `${demo.baseUrl}/broken`];
      for (const [url, kind] of [
        [demo.feeds.rss, 'rss'],
        [demo.feeds.atom, 'atom'],
        [demo.feeds.jsonFeed, 'json-feed'],
        [demo.feeds.sitemap, 'sitemap'],
      ] as const) {
        const feed = parseFeed(await (await fetch(url)).text(), url);
        assert.equal(feed.kind, kind);
        assert.deepEqual(feed.links.map((link) => link.replace('?utm_source=rss', '')), articles, kind);
      }
      const index = parseFeed(await (await fetch(demo.feeds.sitemapIndex)).text(), demo.feeds.sitemapIndex);
      assert.deepEqual([index.kind, index.links], ['sitemap-index', [demo.feeds.sitemap]]);
    } finally {
      await demo.stop();
    }
  });
});
