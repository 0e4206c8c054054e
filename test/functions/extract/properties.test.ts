import assert from 'node:assert/strict';
import fc from 'fast-check';
import { extractArticle } from '../../../functions/src/extract';

const NOW = Date.parse('2026-01-01T00:00:00Z');

/** Fragments of real-world markup, good and broken, glued in random order. */
const fragment = fc.oneof(
  fc.constantFrom(
    '<p>', '</p>', '<div class="content">', '<div class="sidebar">', '</div>', '<article>', '</article>', '<nav>', '</nav>',
    '<h2>', '</h2>', '<h1>', '</h1>', '<br>', '<img src="/a.jpg" width="800" height="600">', '<img src="logo.png">',
    '<meta property="og:image" content="//cdn.example/x.jpg">', '<meta property="og:image" content="javascript:x">',
    '<meta property="article:published_time" content="2020-02-30">', '<meta name="date" content="March 3, 2019">',
    '<time datetime="2018-01-02T03:04:05+01:00">', '</time>', '<base href="/b/">', '<base href="mailto:x">',
    '<script type="application/ld+json">{"@graph":[{"@type":"Article","datePublished":"2017-07-07","image":{"@id":"#i"}}]}</script>',
    '<script type="application/ld+json">{"@type":', '<script>', '</script>', '<!--', '-->', '<title>', '</title>',
    '&amp;', '&#x1F600;', '&bogus;', '<', '>', '"', "'", '\u0000', '日本語の文章。', 'Lorem ipsum dolor, sit amet. ',
  ),
  fc.string({ maxLength: 40 }),
);
const html = fc.array(fragment, { maxLength: 60 }).map((parts) => parts.join(''));
const pageUrl = fc.constantFrom('https://example.com/a/b.html', 'http://x.example/', 'not a url', '', 'file:///tmp/a.html');

describe('extractArticle properties', () => {
  it('never throws and always returns a well-formed record', () => {
    fc.assert(
      fc.property(html, pageUrl, (input, url) => {
        const a = extractArticle(input, url, { now: NOW });
        for (const key of ['bannerImage', 'canonicalUrl'] as const) {
          const v = a[key];
          if (v !== null) assert.match(v, /^https?:\/\//, `${key} must be absolute http(s): ${v}`);
        }
        if (a.publishedAt !== null) {
          const ms = Date.parse(a.publishedAt);
          assert.ok(Number.isFinite(ms), `publishedAt must parse: ${a.publishedAt}`);
          assert.ok(ms <= NOW + 36 * 3600 * 1000, 'publishedAt must not be in the future');
          assert.ok(a.publishedAtRaw !== null);
        }
        assert.ok(Number.isInteger(a.wordCount) && a.wordCount >= 0);
        assert.ok(Number.isInteger(a.readingTimeMinutes) && a.readingTimeMinutes >= 0);
        assert.equal(a.readingTimeMinutes === 0, a.wordCount === 0);
        assert.ok(Array.isArray(a.outline) && a.outline.every((h) => typeof h === 'string' && h.trim() === h && h !== ''));
      }),
      { numRuns: 300, seed: 20261128 },
    );
  });
});
