import assert from 'node:assert/strict';
import { parseJsonLd, flattenJsonLd, typesOf } from '../../../functions/src/extract/jsonld';
import { readingTimeMinutes, tallyWords } from '../../../functions/src/extract/readingTime';
import { firstGood } from '../../../functions/src/extract/rules';
import { absoluteHttpUrl, documentBase } from '../../../functions/src/extract/urls';

describe('extraction rules', () => {
  describe('firstGood', () => {
    it('returns the first value a rule finds', () => {
      const hit = firstGood([{ name: 'a', run: () => null }, { name: 'b', run: () => 'B' }, { name: 'c', run: () => 'C' }], {});
      assert.deepEqual(hit, { value: 'B', rule: 'b' });
    });

    it('makes the field null when a rule throws, instead of handing it to a weaker rule', () => {
      const hit = firstGood([{ name: 'a', run: (): string => { throw new Error('broken'); } }, { name: 'b', run: () => 'B' }], {});
      assert.equal(hit, null);
    });
  });

  describe('URLs', () => {
    it('resolves relative, protocol-relative and base-relative references', () => {
      assert.equal(absoluteHttpUrl('../i/a.jpg', 'https://x.example/a/b/c.html'), 'https://x.example/a/i/a.jpg');
      assert.equal(absoluteHttpUrl('//cdn.example/a.jpg', 'http://x.example/'), 'http://cdn.example/a.jpg');
      const base = documentBase('https://x.example/a/b.html', '/static/');
      assert.equal(absoluteHttpUrl('i.png', base), 'https://x.example/static/i.png');
    });

    it('accepts only http(s)', () => {
      for (const bad of ['javascript:alert(1)', 'data:image/png;base64,AA', 'ftp://x.example/a', 'mailto:a@b.c', '', '   ']) {
        assert.equal(absoluteHttpUrl(bad, 'https://x.example/'), null, bad);
      }
      assert.equal(absoluteHttpUrl('/a.jpg', null), null);
    });
  });

  describe('JSON-LD', () => {
    it('flattens @graph, arrays and nested objects in document order', () => {
      const nodes = flattenJsonLd(parseJsonLd('{"@graph":[{"@type":"WebSite"},{"@type":["Article"],"author":[{"@type":"Person","name":"A"}]}]}'));
      assert.deepEqual(nodes.map((n) => typesOf(n)[0]), ['website', 'article', 'person']);
    });

    it('repairs raw newlines inside strings and CDATA wrappers', () => {
      assert.deepEqual(parseJsonLd('<![CDATA[{"@type":"Article","headline":"a\nb"}]]>'), { '@type': 'Article', headline: 'a b' });
      assert.equal(parseJsonLd('{not json'), null);
    });
  });

  describe('reading time', () => {
    it('counts words with letters or digits only', () => {
      assert.deepEqual(tallyWords('One — two • 3 … four'), { words: 4, cjkChars: 0 });
    });

    it('counts CJK characters separately and reads them at 500 per minute', () => {
      const tally = tallyWords('東京は大きい。' + 'あ'.repeat(993) + ' Tokyo');
      assert.deepEqual(tally, { words: 1, cjkChars: 999 });
      assert.equal(readingTimeMinutes({ words: 0, cjkChars: 1500 }), 3);
    });

    it('is at least one minute for any text and zero for none', () => {
      assert.equal(readingTimeMinutes({ words: 3, cjkChars: 0 }), 1);
      assert.equal(readingTimeMinutes({ words: 0, cjkChars: 0 }), 0);
    });
  });
});
