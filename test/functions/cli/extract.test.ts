import assert from 'node:assert/strict';
import path from 'node:path';
import { main } from '../../../functions/src/cli/extract';

const FIXTURE = path.resolve(__dirname, '../../fixtures/extract/relative-images/input.html');

function run(argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(argv, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

describe('extract CLI', () => {
  it('prints the article JSON, resolving relative URLs against --url', () => {
    const r = run([FIXTURE, '--url', 'https://www.example.com/blog/posts/x.html']);
    assert.equal(r.code, 0);
    const article = JSON.parse(r.out) as { title: string; bannerImage: string };
    assert.equal(article.title, 'A relative banner');
    assert.equal(article.bannerImage, 'https://www.example.com/blog/images/lead%20photo.jpg');
  });

  it('fails with exit code 2 and names the missing file', () => {
    const r = run(['/nonexistent/page.html']);
    assert.equal(r.code, 2);
    assert.match(r.err, /no such file: \/nonexistent\/page\.html/);
    assert.match(r.err, /\[file-not-found\]/);
    assert.equal(r.out, '');
  });

  it('explains the usage when no file or a bad URL is given', () => {
    assert.match(run([]).err, /usage: npm run extract -- <file\.html>/);
    assert.match(run([FIXTURE, '--url', 'example.com']).err, /not an absolute URL/);
  });
});
