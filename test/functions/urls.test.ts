import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalizeUrl, MAX_URL_LENGTH, urlKey } from '../../functions/src/urls';

function canonical(input: string): string {
  const result = canonicalizeUrl(input);
  assert.ok(result.ok, `expected ${input} to be accepted, got ${JSON.stringify(result)}`);
  return result.canonicalUrl;
}

function rejection(input: string, blockReason?: (host: string) => string | null): string {
  const result = canonicalizeUrl(input, { blockReason });
  assert.ok(!result.ok, `expected ${input} to be rejected`);
  assert.ok(result.message.length > 10);
  return result.code;
}

describe('canonicalizeUrl', () => {
  it('lower-cases scheme and host, drops default ports and fragments, keeps path case', () => {
    assert.equal(canonical('  HTTPS://Example.COM:443/Blog/Post#comments '), 'https://example.com/Blog/Post');
    assert.equal(canonical('http://example.com:80'), 'http://example.com/');
    assert.equal(canonical('http://example.com:8080/a'), 'http://example.com:8080/a');
    assert.equal(canonical('https://example.com/a/./b/../c/'), 'https://example.com/a/c/');
  });

  it('removes tracking parameters and keeps the others in order and as written', () => {
    assert.equal(
      canonical('https://example.com/p?utm_source=x&id=7&UTM_Medium=y&fbclid=abc&q=a%20b+c&gclid=1&mc_cid=2&_ga=3&ref_src=twsrc&page=2'),
      'https://example.com/p?id=7&q=a%20b+c&page=2',
    );
    assert.equal(canonical('https://example.com/p?utm_campaign=spring'), 'https://example.com/p');
    assert.equal(canonical('https://example.com/p?'), 'https://example.com/p');
    assert.equal(canonical('https://example.com/p?b=2&a=1'), 'https://example.com/p?b=2&a=1');
  });

  it('gives the same key to spellings of the same page and different keys to different pages', () => {
    const a = canonicalizeUrl('https://Example.com/post?utm_source=newsletter#top');
    const b = canonicalizeUrl('https://example.com:443/post');
    const c = canonicalizeUrl('https://example.com/post/');
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(a.urlKey, b.urlKey);
    assert.notEqual(a.urlKey, c.urlKey);
    assert.equal(a.urlKey, createHash('sha256').update('https://example.com/post').digest('hex'));
    assert.match(urlKey('https://example.com/post'), /^[0-9a-f]{64}$/);
  });

  it('converts international host names to punycode', () => {
    assert.equal(canonical('https://Bücher.example/ä'), 'https://xn--bcher-kva.example/%C3%A4');
  });

  it('rejects what can never be scraped, with a code per reason', () => {
    assert.equal(rejection('not a url'), 'invalid-url');
    assert.equal(rejection('example.com/page'), 'invalid-url');
    assert.equal(rejection(''), 'invalid-url');
    assert.equal(rejection('ftp://example.com/file'), 'unsupported-scheme');
    assert.equal(rejection('javascript:alert(1)'), 'unsupported-scheme');
    assert.equal(rejection('http:///page'), 'missing-host');
    assert.equal(rejection('https://'), 'missing-host');
    assert.equal(rejection('https://user:secret@example.com/'), 'credentials-in-url');
    assert.equal(rejection(`https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`), 'url-too-long');
  });

  it('rejects a URL holding an unpaired surrogate, which Firestore could not store, and keeps real emoji', () => {
    assert.equal(rejection('https://example.com/\ud800'), 'invalid-url');
    assert.equal(rejection('https://example.com/a\udc00b'), 'invalid-url');
    assert.equal(canonical('https://example.com/\u{1F600}'), 'https://example.com/%F0%9F%98%80');
  });

  it('rejects a URL whose encoded form exceeds the limit', () => {
    const input = `https://example.com/${'é'.repeat(700)}`;
    assert.ok(input.length < MAX_URL_LENGTH);
    assert.equal(rejection(input), 'url-too-long');
  });

  it('rejects literal non-public hosts through the block check, after normalising the spelling', () => {
    const seen: string[] = [];
    const check = (host: string): string | null => {
      seen.push(host);
      return host === '127.0.0.1' ? 'loopback address' : null;
    };
    assert.equal(rejection('http://0x7f.1/admin', check), 'blocked-address');
    assert.deepEqual(seen, ['127.0.0.1']);
    assert.ok(canonicalizeUrl('http://example.com/', { blockReason: check }).ok);
  });
});
