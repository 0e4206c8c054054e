import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { extractArticle } from '../../../functions/src/extract';
import type { Article } from '../../../functions/src/extract';

/**
 * Each folder of test/fixtures/extract holds a page written for this project (input.html) and the
 * reviewed record it must produce (expected.json: { url, now, article }). `now` freezes the clock that
 * future dates are judged against.
 */
const FIXTURES = path.resolve(__dirname, '../../fixtures/extract');

interface Expected {
  url: string;
  now: string;
  article: Article;
}

describe('extractArticle on the project fixtures', () => {
  for (const name of readdirSync(FIXTURES).sort()) {
    it(name, () => {
      const html = readFileSync(path.join(FIXTURES, name, 'input.html'), 'utf8');
      const expected = JSON.parse(readFileSync(path.join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
      const article = extractArticle(html, expected.url, { now: Date.parse(expected.now) });
      assert.deepEqual(article, expected.article);
    });
  }
});
