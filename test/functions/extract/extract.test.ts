import assert from 'node:assert/strict';
import { articleBounds, clipText, extractArticle } from '../../../functions/src/extract';
import { firstSentences } from '../../../functions/src/extract/body';

const NOW = Date.parse('2026-01-01T00:00:00Z');
/** 24 words. */
const PROSE = 'The committee met on a rainy morning, argued for an hour about the budget, and agreed, in the end, to meet again next week. ';
const page = (head: string, body = `<article><p>${PROSE.repeat(3)}</p></article>`): string =>
  `<!DOCTYPE html><html><head>${head}</head><body>${body}</body></html>`;
const extract = (html: string, url = 'https://news.example.com/a/b.html') => extractArticle(html, url, { now: NOW });

describe('extractArticle', () => {
  describe('publication date', () => {
    it('reads a JSON-LD datePublished nested under mainEntity and keeps the raw text', () => {
      const a = extract(page(`<script type="application/ld+json">{"@type":"WebPage","mainEntity":{"@type":"Article","datePublished":"2020-02-03T04:05:06+02:00"}}</script>`));
      assert.equal(a.publishedAt, '2020-02-03T04:05:06+02:00');
      assert.equal(a.publishedAtRaw, '2020-02-03T04:05:06+02:00');
    });

    it('prefers the Article node over a WebPage node listed first', () => {
      const a = extract(page(`<script type="application/ld+json">[{"@type":"WebPage","datePublished":"2019-01-01"},{"@type":"BlogPosting","datePublished":"2021-06-07"}]</script>`));
      assert.equal(a.publishedAt, '2021-06-07T00:00:00Z');
    });

    it('survives JSON-LD wrapped in a comment with a trailing semicolon', () => {
      const a = extract(page(`<script type="application/ld+json"><!--{"@type":"NewsArticle","datePublished":"2018-08-09T10:00:00Z"};--></script>`));
      assert.equal(a.publishedAt, '2018-08-09T10:00:00Z');
    });

    it('never reports a modification date as the publication date', () => {
      const a = extract(page('<meta property="article:modified_time" content="2021-05-05T00:00:00Z">'));
      assert.equal(a.publishedAt, null);
      assert.equal(a.modifiedAt, '2021-05-05T00:00:00Z');
    });

    it('rejects a date after `now` and falls through to the next source', () => {
      const a = extract(page('<meta property="article:published_time" content="2026-03-01T00:00:00Z"><meta name="date" content="2025-12-30">'));
      assert.equal(a.publishedAt, '2025-12-30T00:00:00Z');
    });

    it('skips a <time> marked as an update and takes the publication one', () => {
      const a = extract(page('', `<article><p>Updated <time datetime="2024-02-02">Feb 2</time>, first published <time datetime="2024-01-15T12:00:00Z">Jan 15</time></p><p>${PROSE.repeat(3)}</p></article>`));
      assert.equal(a.publishedAt, '2024-01-15T12:00:00Z');
    });

    it('finds the publication date in inline page data when the markup has none', () => {
      const a = extract(page('<script>window.__STATE__={"article":{"id":7,"publishedAt":"2023-04-05T06:07:08Z"},"related":[{"publishedAt":"2020-01-01"}]}</script>'));
      assert.equal(a.publishedAt, '2023-04-05T06:07:08Z');
    });

    it('ignores dates in the comments', () => {
      const a = extract(page('', `<article><p>${PROSE.repeat(3)}</p></article><section class="comments"><time datetime="2024-03-03">March 3</time><time datetime="2024-03-04">x</time><time datetime="2024-03-05">y</time><time datetime="2024-03-06">z</time></section>`));
      assert.equal(a.publishedAt, null);
    });
  });

  describe('title', () => {
    it('drops a site name that the page declares, whichever side it is on', () => {
      const head = '<meta property="og:site_name" content="Harbour News">';
      assert.equal(extract(page(`${head}<title>Harbour News — Fishing quotas cut</title>`)).title, 'Fishing quotas cut');
      assert.equal(extract(page(`${head}<title>Fishing quotas cut | Harbour News</title>`)).title, 'Fishing quotas cut');
    });

    it('recognises the site by its host name when it is not declared', () => {
      const a = extract(page('<title>Fishing quotas cut, again and again - Harbournews</title>'), 'https://www.harbournews.example/x');
      assert.equal(a.title, 'Fishing quotas cut, again and again');
    });

    it('drops section labels in front and company names behind, and keeps a colon of the headline', () => {
      assert.equal(extract(page('<title>Opinion | Night trains are back</title>')).title, 'Night trains are back');
      assert.equal(extract(page('<title>r/trains - Night trains are back</title>')).title, 'Night trains are back');
      assert.equal(extract(page('<title>Night trains are back | Rail Works Ltd</title>')).title, 'Night trains are back');
      assert.equal(extract(page('<title>Night trains: the comeback nobody planned</title>')).title, 'Night trains: the comeback nobody planned');
      assert.equal(extract(page('<meta property="og:site_name" content="Harbour News"><meta property="og:title" content="Harbour News: Fishing quotas cut again">')).title, 'Fishing quotas cut again');
    });

    it('takes the article\'s own h1 when a metadata title vouches for it', () => {
      const body = `<article><h1>Fishing quotas cut</h1><p>${PROSE.repeat(3)}</p></article>`;
      assert.equal(extract(page('<meta property="og:title" content="Fishing quotas cut — Coast Desk">', body)).title, 'Fishing quotas cut');
      // An h1 no metadata title vouches for leaves the metadata in charge.
      assert.equal(extract(page('<meta property="og:title" content="Quotas for the fleet are cut again">', body)).title, 'Quotas for the fleet are cut again');
    });

    it('keeps a dash that belongs to the headline', () => {
      const a = extract(page('<meta property="og:title" content="Spider-Man and the long, hot summer - a review of reviews">'));
      assert.equal(a.title, 'Spider-Man and the long, hot summer - a review of reviews');
    });

    it('reads JSON-LD as raw text: markup-like characters inside it are not parsed as HTML', () => {
      const a = extract(page('<script type="application/ld+json">{"@type":"Article","headline":"Less <than> more </script-ish> &amp; then some"}</script>'));
      assert.equal(a.title, 'Less <than> more </script-ish> & then some');
    });

    it('prefers the JSON-LD name over a headline that does not match <title>', () => {
      const a = extract(page('<title>Hermitian matrix - Wikipedia</title><script type="application/ld+json">{"@type":"Article","name":"Hermitian matrix","headline":"matrix equal to its conjugate-transpose"}</script>'));
      assert.equal(a.title, 'Hermitian matrix');
    });
  });

  describe('banner image', () => {
    it('takes og:image before twitter:image and resolves it against the page URL', () => {
      const a = extract(page('<meta name="twitter:image" content="/t.jpg"><meta property="og:image" content="o.jpg">'));
      assert.equal(a.bannerImage, 'https://news.example.com/a/o.jpg');
    });

    it('skips a JSON-LD publisher logo and uses the article image', () => {
      const a = extract(page('<script type="application/ld+json">{"@type":"Article","publisher":{"@type":"Organization","logo":{"@type":"ImageObject","url":"https://x.example/logo.png"}},"image":{"@type":"ImageObject","url":"https://x.example/lead.jpg"}}</script>'));
      assert.equal(a.bannerImage, 'https://x.example/lead.jpg');
    });

    it('follows an @id reference to the ImageObject of a JSON-LD @graph', () => {
      const a = extract(page('<script type="application/ld+json">{"@graph":[{"@type":"Article","image":{"@id":"https://x.example/p#primaryimage"}},{"@type":"ImageObject","@id":"https://x.example/p#primaryimage","url":"https://x.example/p/lead.jpg"}]}</script>'));
      assert.equal(a.bannerImage, 'https://x.example/p/lead.jpg');
    });

    it('refuses non-http(s) schemes', () => {
      const a = extract(page('<meta property="og:image" content="data:image/png;base64,AAAA"><meta property="og:image" content="ftp://x.example/a.jpg">'));
      assert.equal(a.bannerImage, null);
    });
  });

  describe('main content', () => {
    it('counts only the article, not the navigation, sidebar and footer', () => {
      const nav = '<nav>' + '<a href="/x">Home and garden and more</a> '.repeat(50) + '</nav>';
      const footer = '<footer>' + 'Copyright and legal notices for the whole site. '.repeat(40) + '</footer>';
      const a = extract(page('', `${nav}<div class="story"><p>${PROSE.repeat(4)}</p><p>${PROSE.repeat(4)}</p></div><aside>${'Buy now. '.repeat(80)}</aside>${footer}`));
      assert.equal(a.wordCount, 8 * 24);
      assert.equal(a.readingTimeMinutes, 1);
    });

    it('takes a table-shaped article whole, with the prose and headings around the table', () => {
      const rows = Array.from({ length: 30 }, (_, i) => `<tr><td>Film ${i}</td><td>${PROSE}</td></tr>`).join('');
      const body = `<div class="page"><p>${PROSE.repeat(2)}</p><table class="list"><caption>Films</caption><thead><tr><th>Film</th><th>Plot</th></tr></thead><tbody>${rows}</tbody></table>` +
        `<h2>See also</h2><p>${PROSE}</p></div>`;
      const a = extract(page('', body));
      assert.deepEqual(a.outline, ['See also']);
      assert.equal(a.wordCount, 2 * 24 + 1 + 2 + 30 * (2 + 24) + 2 + 24);
    });

    it('leaves reading lists, comment counts and bare numbers out of the outline', () => {
      const body = `<article><p>${PROSE.repeat(3)}</p><h2>What changed</h2><p>${PROSE.repeat(3)}</p>` +
        `<h3>More to Read</h3><h3>12 comments</h3><h4>14</h4><p>${PROSE.repeat(2)}</p></article>`;
      assert.deepEqual(extract(page('', body)).outline, ['What changed']);
    });

    it('gives an article without headings a summary made of its first sentences', () => {
      const a = extract(page('', `<div><p>${PROSE.repeat(5)}</p></div>`));
      assert.deepEqual(a.outline, []);
      assert.ok(a.summary !== null && a.summary.startsWith('The committee met') && a.summary.endsWith('.'));
      assert.ok(a.summary.length <= 300);
    });

    it('reads a long article at 238 words per minute', () => {
      const a = extract(page('', `<article>${`<p>${PROSE.repeat(4)}</p>`.repeat(24)}</article>`));
      assert.equal(a.wordCount, 2304);
      assert.equal(a.readingTimeMinutes, 10);
    });
  });

  describe('robustness', () => {
    it('never throws, whatever it is given', () => {
      for (const input of ['', '<', '<<<>>>', '<html', '\u0000\u0001', '<script type="application/ld+json">{', null, undefined, 42]) {
        const a = extractArticle(input as unknown as string, 'not a url');
        assert.equal(typeof a, 'object');
        assert.equal(a.bannerImage, null);
      }
    });

    it('handles ten thousand unclosed <div>s without overflowing the stack', () => {
      const html = '<title>Deep</title>' + '<div>'.repeat(10000) + `<p>${PROSE}</p>`;
      const a = extract(html);
      assert.equal(a.title, 'Deep');
      assert.equal(a.wordCount, 24);
    });
  });

  describe('other fields', () => {
    it('takes no profile link for an author name', () => {
      const a = extract(page('<meta property="article:author" content="www.facebook.com/someone"><meta name="parsely-author" content="Sam Reed">'));
      assert.equal(a.author, 'Sam Reed');
    });

    it('reads canonical URL, site name, author and language', () => {
      const a = extract(page('<link rel="canonical" href="/a/b"><meta property="og:site_name" content="Harbour News"><meta name="author" content="Jo Fisher"><meta property="og:locale" content="en_GB">'));
      assert.equal(a.canonicalUrl, 'https://news.example.com/a/b');
      assert.equal(a.siteName, 'Harbour News');
      assert.equal(a.author, 'Jo Fisher');
      assert.equal(a.language, 'en-GB');
    });
  });

  describe('bounds of the record', () => {
    it('keeps a hostile page within a Firestore document: text cut at a word, overlong URLs dropped, the first 100 headings', () => {
      const headings = Array.from({ length: 2000 }, (_, i) => `<h2>Section ${i} ${'long '.repeat(30)}</h2><p>${PROSE}</p>`).join('');
      const html = page(
        `<title>${'Title words '.repeat(100)}</title><meta name="description" content="${'word '.repeat(100_000)}">` +
          `<meta property="og:image" content="https://img.example.com/${'a'.repeat(5000)}.png"><meta property="og:site_name" content="${'Site '.repeat(100)}">`,
        `<article>${headings}</article>`,
      );
      const a = extract(html);
      assert.equal(a.outline.length, articleBounds.outlineEntries);
      assert.equal(a.outline[0], `Section 0 ${'long '.repeat(30)}`.trim());
      assert.ok(a.description !== null && a.description.length <= articleBounds.descriptionChars && a.description.endsWith('word…'), a.description ?? 'null');
      assert.equal(a.summary, a.description);
      assert.ok(a.title !== null && a.title.length <= articleBounds.titleChars && a.title.endsWith('…'));
      assert.ok(a.siteName !== null && a.siteName.length <= articleBounds.nameChars && a.siteName.endsWith('Site…'), a.siteName ?? 'null');
      assert.equal(a.bannerImage, null);
      assert.ok(Buffer.byteLength(JSON.stringify(a)) < 64 * 1024);
    });

    it('leaves ordinary values alone and never cuts inside a surrogate pair', () => {
      assert.equal(clipText('short', 10), 'short');
      assert.equal(clipText(null, 10), null);
      assert.equal(clipText('one two three four five', 12), 'one two…');
      const emoji = clipText('😀'.repeat(50), 11);
      assert.equal(emoji, `${'😀'.repeat(5)}…`);
      const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
      assert.doesNotMatch(emoji ?? '', loneSurrogate);
      // A summary from body text with no sentence end and no space: 300 code units would end mid-pair.
      const summary = firstSentences(`a${'😀'.repeat(200)}`);
      assert.ok(summary !== null && summary.length <= 301 && summary.endsWith('…'));
      assert.doesNotMatch(summary, loneSurrogate);
    });
  });
});
