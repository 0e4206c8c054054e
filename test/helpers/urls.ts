/** URL helpers shared by the tests. */
import assert from 'node:assert/strict';
import { canonicalizeUrl } from '../../functions/src/urls';

/** The document key of an acceptable URL (fails the test if the URL is not acceptable). */
export function keyOf(url: string): string {
  const result = canonicalizeUrl(url);
  assert.ok(result.ok, `${url} is not acceptable`);
  return result.urlKey;
}
