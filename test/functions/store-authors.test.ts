import assert from 'node:assert/strict';
import { articleFromData, fieldsFromArticle } from '../../functions/src/store';
import { portfolioArticleView } from '../../functions/src/api';
import { article } from './fakes';

describe('authors in the article record and the portfolio view', () => {
  it('stores the extracted authors and shows them in the portfolio view', () => {
    const fields = fieldsFromArticle({ ...article('T'), author: 'Ann Lee', authors: ['Ann Lee', 'Bo Ruiz'] });
    const record = articleFromData('k', { url: 'https://example.com/a', canonicalUrl: 'https://example.com/a', status: 'done', ...fields });
    assert.deepEqual(record.authors, ['Ann Lee', 'Bo Ruiz']);
    assert.equal(record.author, 'Ann Lee');
    assert.deepEqual(portfolioArticleView('https://example.com/a', record)['authors'], ['Ann Lee', 'Bo Ruiz']);
  });

  it('reads a record written before the list existed as a list of its one author', () => {
    const record = articleFromData('k', { url: 'https://example.com/a', status: 'done', author: 'Ann Lee' });
    assert.deepEqual(record.authors, ['Ann Lee']);
    assert.deepEqual(articleFromData('k', { url: 'https://example.com/a', status: 'done' }).authors, []);
    assert.deepEqual(portfolioArticleView('https://example.com/b', null)['authors'], []);
  });
});
