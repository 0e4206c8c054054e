import assert from 'node:assert/strict';
import { extractArticle } from '../../../functions/src/extract';
import { givenFirst, looksLikeName, namesInByline } from '../../../functions/src/extract/authors';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const PROSE = '<p>The committee met on a rainy morning, argued for an hour about the budget, and agreed, in the end, to meet again next week.</p>'.repeat(3);
const authorsOf = (head: string, body = `<article><h1>A headline for the test</h1>${PROSE}</article>`): string[] =>
  extractArticle(`<!DOCTYPE html><html><head>${head}</head><body>${body}</body></html>`, 'https://news.example.com/a/b.html', { now: NOW }).authors;
const jsonLd = (value: unknown): string => `<script type="application/ld+json">${JSON.stringify(value)}</script>`;

describe('authors', () => {
  describe('byline text', () => {
    it('reads the names after "By" up to a separator or a date', () => {
      assert.deepEqual(namesInByline('By Ann Lee and Bo Ruiz | May 3, 2020'), ['Ann Lee', 'Bo Ruiz']);
      assert.deepEqual(namesInByline('Posted by Ines Carvalho on 12/23/2016'), ['Ines Carvalho']);
      assert.deepEqual(namesInByline('Par Cécile Dupont, le 7 mai 2019'), ['Cécile Dupont']);
      assert.deepEqual(namesInByline('Paul December 23, 2016'), ['Paul']);
    });

    it('turns "Surname, Given" around and leaves picture credits out', () => {
      assert.equal(givenFirst('Gillman, Steve'), 'Steve Gillman');
      assert.equal(givenFirst('Adkins, Laura E.'), 'Laura E. Adkins');
      assert.deepEqual(namesInByline('Ysabel Yates, Illustration by Claire Lordon'), ['Ysabel Yates']);
    });

    it('refuses sentences, handles and URLs as names', () => {
      assert.equal(looksLikeName('Read more about the budget'), false);
      assert.equal(looksLikeName('@someone'), false);
      assert.equal(looksLikeName('https://example.com/u/someone'), false);
      assert.equal(looksLikeName('Ana de la Cruz'), true);
      assert.equal(looksLikeName('松村太郎'), true);
      assert.deepEqual(namesInByline('By subscribing you agree to our terms'), []);
    });
  });

  describe('sources', () => {
    it('lists every JSON-LD author person and leaves the organisation out', () => {
      const head = jsonLd({ '@type': 'NewsArticle', author: [{ '@type': 'Person', name: 'Ada Brook' }, { '@type': 'Organization', name: 'Wire Desk' }, { '@type': 'Person', name: 'Tom Weir' }] });
      assert.deepEqual(authorsOf(head), ['Ada Brook', 'Tom Weir']);
    });

    it('names the organisation when no person is named anywhere', () => {
      assert.deepEqual(authorsOf(jsonLd({ '@type': 'NewsArticle', author: { '@type': 'Organization', name: 'Wire Desk' } })), ['Wire Desk']);
    });

    it('prefers a visible byline to a publisher name in meta[name=author]', () => {
      const head = '<meta name="author" content="Harbour Media"><meta property="og:site_name" content="Harbour Media">';
      const body = `<article><h1>A headline for the test</h1><p class="byline">By <a href="/staff/jo-fisher">Jo Fisher</a></p>${PROSE}</article>`;
      assert.deepEqual(authorsOf(head, body), ['Jo Fisher']);
      assert.deepEqual(authorsOf(head), ['Harbour Media']);
    });

    it('takes a profile URL as a name only when a link on the page says the name', () => {
      const head = '<meta property="article:author" content="https://social.example.net/sam.reed">';
      assert.deepEqual(authorsOf(head), []);
      const body = `<article><h1>A headline for the test</h1>${PROSE}<p>Follow <a href="https://social.example.net/sam.reed">Sam Reed</a></p></article>`;
      assert.deepEqual(authorsOf(head, body), ['Sam Reed']);
      assert.deepEqual(authorsOf('<meta name="twitter:creator" content="@samreed"><meta name="author" content="@samreed">'), []);
    });

    it('reads the names after a "By" label element, whatever inline markup follows it', () => {
      const body = `<article><h1>A headline for the test</h1><div class="x1"><span class="y">By</span><span>by ANN LEE, BO RUIZ and CY DOE</span></div>${PROSE}</article>`;
      assert.deepEqual(authorsOf('', body), ['ANN LEE', 'BO RUIZ', 'CY DOE']);
    });

    it('reads microdata and rel=author, not the names in comments', () => {
      const body = `<article><h1>A headline for the test</h1>${PROSE}</article><div class="comments"><span class="comment-author vcard"><span class="fn">A Reader</span></span><a rel="author" href="/u/reader">A Reader</a></div>`;
      assert.deepEqual(authorsOf('', body), []);
      const md = `<article itemscope itemtype="https://schema.org/Article"><h1>A headline for the test</h1><span itemprop="author" itemscope itemtype="https://schema.org/Person"><span itemprop="name">Mira Lund</span></span>${PROSE}</article>`;
      assert.deepEqual(authorsOf('', md), ['Mira Lund']);
    });
  });
});
