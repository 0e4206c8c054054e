import assert from 'node:assert/strict';
import { parseFeed } from '../../../functions/src/feeds/parse';

const base = 'https://blog.example/feed';

describe('parseFeed', () => {
  it('reads RSS 2.0 links, falling back to a permalink guid, resolving relative links and entities', () => {
    const feed = parseFeed(
      `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>T</title><atom:link href="https://blog.example/feed" rel="self"/>
<item><title>One</title><link>https://blog.example/one?a=1&amp;b=2</link></item>
<item><title>Two</title><guid>https://blog.example/two</guid></item>
<item><title>Not a permalink</title><guid isPermaLink="false">https://blog.example/three</guid></item>
<item><title>Relative</title><link>/four</link></item>
<item><title><![CDATA[<b>Five</b>]]></title><link><![CDATA[https://blog.example/five]]></link></item>
</channel></rss>`,
      base,
    );
    assert.equal(feed.kind, 'rss');
    assert.deepEqual(feed.links, ['https://blog.example/one?a=1&b=2', 'https://blog.example/two', 'https://blog.example/four', 'https://blog.example/five']);
  });

  it('reads a single-item RSS feed and RSS 1.0 (RDF)', () => {
    assert.deepEqual(parseFeed('<rss><channel><item><link>https://a.example/1</link></item></channel></rss>', base).links, ['https://a.example/1']);
    const rdf = parseFeed(
      '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel><title>x</title></channel><item rdf:about="https://a.example/2"><link>https://a.example/2</link></item></rdf:RDF>',
      base,
    );
    assert.deepEqual([rdf.kind, rdf.links], ['rdf', ['https://a.example/2']]);
  });

  it('reads Atom alternate links (rel defaults to alternate), with xml:base', () => {
    const feed = parseFeed(
      `<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example/blog/">
<entry><link rel="self" href="https://atom.example/self/1"/><link rel="alternate" type="text/html" href="posts/1"/></entry>
<entry><link href="https://atom.example/2"/></entry>
<entry><link rel="enclosure" href="https://atom.example/audio.mp3"/></entry>
</feed>`,
      base,
    );
    assert.equal(feed.kind, 'atom');
    assert.deepEqual(feed.links, ['https://atom.example/blog/posts/1', 'https://atom.example/2']);
  });

  it('reads JSON Feed items (url, else external_url)', () => {
    const feed = parseFeed(JSON.stringify({ version: 'https://jsonfeed.org/version/1.1', title: 'x', items: [{ id: '1', url: 'https://j.example/1' }, { id: '2', external_url: 'https://j.example/2' }, { id: '3' }] }), base);
    assert.deepEqual([feed.kind, feed.links], ['json-feed', ['https://j.example/1', 'https://j.example/2']]);
  });

  it('reads sitemaps and sitemap indexes', () => {
    const sitemap = parseFeed('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc> https://s.example/a </loc></url><url><loc>https://s.example/b</loc></url></urlset>', base);
    assert.deepEqual([sitemap.kind, sitemap.links], ['sitemap', ['https://s.example/a', 'https://s.example/b']]);
    const index = parseFeed('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://s.example/s1.xml</loc></sitemap></sitemapindex>', base);
    assert.deepEqual([index.kind, index.links], ['sitemap-index', ['https://s.example/s1.xml']]);
  });

  it('refuses what is not a feed, naming what it is, and bounds DOCTYPE entity expansion', () => {
    assert.throws(() => parseFeed('<!doctype html><html><body>hi</body></html>', base), { code: 'feed-invalid' });
    assert.throws(() => parseFeed('<note><to>x</to></note>', base), /<note>, not an RSS/);
    assert.throws(() => parseFeed('{"items": []}', base), /not a JSON Feed/);
    assert.throws(() => parseFeed('plain text', base), /neither XML nor JSON/);
    assert.throws(() => parseFeed('<rss><channel><item></rss>', base), { code: 'feed-invalid' });
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss><channel><item><link>https://x.example/&lol3;</link></item></channel></rss>`;
    let links: string[] = [];
    try {
      links = parseFeed(bomb, base).links;
    } catch (error) {
      assert.equal((error as { code?: string }).code, 'feed-invalid');
    }
    for (const link of links) assert.ok(link.length < 100, `an entity was expanded: ${link.slice(0, 80)}…`);
  });

  it('reads a 1,000-entry feed', () => {
    const items = Array.from({ length: 1000 }, (_, i) => `<item><title>Post ${i}</title><link>https://big.example/p/${i}</link></item>`).join('');
    const feed = parseFeed(`<rss version="2.0"><channel>${items}</channel></rss>`, base);
    assert.equal(feed.links.length, 1000);
    assert.equal(feed.links[999], 'https://big.example/p/999');
  });
});
