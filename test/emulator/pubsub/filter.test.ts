import assert from 'node:assert/strict';
import { parseFilter } from '../../../emulator/pubsub/filter';

describe('Pub/Sub filter language (emulator/pubsub/filter.ts)', () => {
  const matches = (filter: string, attributes: Record<string, string>): boolean => parseFilter(filter)(attributes);

  it('matches keys, values and prefixes as documented', () => {
    assert.equal(matches('attributes:domain', { domain: '' }), true);
    assert.equal(matches('attributes:domain', { other: 'x' }), false);
    assert.equal(matches('attributes.domain = "com"', { domain: 'com' }), true);
    assert.equal(matches('attributes.domain = "com"', { domain: 'org' }), false);
    // != holds when the key is absent ("messages without the attribute, or with another value").
    assert.equal(matches('attributes.domain != "com"', {}), true);
    assert.equal(matches('attributes.domain != "com"', { domain: 'com' }), false);
    assert.equal(matches('hasPrefix(attributes.domain, "co")', { domain: 'com' }), true);
    assert.equal(matches('hasPrefix(attributes.domain, "co")', {}), false);
    assert.equal(matches('NOT hasPrefix(attributes.domain, "co")', {}), true);
  });

  it('combines with NOT (or -), AND, OR and parentheses', () => {
    const filter = 'attributes:a AND (attributes.b = "1" OR attributes.b = "2") AND -attributes:c';
    assert.equal(matches(filter, { a: '', b: '2' }), true);
    assert.equal(matches(filter, { a: '', b: '3' }), false);
    assert.equal(matches(filter, { a: '', b: '1', c: '' }), false);
    assert.equal(matches('NOT (attributes:a OR attributes:b)', { c: '' }), true);
    assert.equal(matches('NOT NOT attributes:a', { a: '' }), true);
  });

  it('reads keys with hyphens, quoted keys and escapes in string literals', () => {
    assert.equal(matches('attributes.ce-type = "dev.x"', { 'ce-type': 'dev.x' }), true);
    assert.equal(matches('attributes."a key" = "v"', { 'a key': 'v' }), true);
    assert.equal(matches('attributes.k = "say \\"hi\\" \\u00e9\\x41\\101\\n"', { k: 'say "hi" éAA\n' }), true);
    assert.equal(matches("attributes.k = 'single'", { k: 'single' }), true);
  });

  it('does not treat inherited object properties as attributes', () => {
    assert.equal(matches('attributes:constructor', {}), false);
    assert.equal(matches('attributes.toString = "x"', {}), false);
  });

  it('rejects what does not parse with INVALID_ARGUMENT naming the column', () => {
    const cases: Array<[string, RegExp]> = [
      ['attributes.a = ', /column 16/],
      ['attributes.a = "x" AND attributes:b OR attributes:c', /AND and OR.*column 37/],
      ['attributes.a == "x"', /column 15/],
      ['attributes.a = "unterminated', /unterminated.*column 16/],
      ['and attributes:a', /column 1\b/],
      ['attributes:a AND', /end of the filter.*column 17/],
      ['(attributes:a', /column 14/],
      ['attributes:a attributes:b', /column 14/],
      ['hasPrefix(attributes.a "x")', /column 24/],
      ['attributes.a = "\\q"', /escape.*column 17/],
      ['attributes.a = x', /string literal.*column 16/],
      ['attributes.a = "x" and attributes:b', /column 20/],
      ['data = "x"', /column 1\b/],
      ['attributes.a = "x" $', /character "\$".*column 20/],
    ];
    for (const [filter, message] of cases) {
      assert.throws(
        () => parseFilter(filter),
        (error: { code?: number; message: string }) => {
          assert.equal(error.code, 3, filter);
          assert.match(error.message, message, filter);
          return true;
        },
      );
    }
  });

  it('matches everything when empty', () => {
    assert.equal(matches('', {}), true);
    assert.equal(matches('   ', { a: '' }), true);
  });
});
