/**
 * The fault site promises, for every page, how the pipeline must end it. These tests hold it to that
 * promise against the real fetcher (and extractor), one fetch per delivery, so a chaos run's exact
 * assertions rest on checked ground.
 */
import assert from 'node:assert/strict';
import { extractArticle } from '../../functions/src/extract';
import { fetchPage, type FetchOptions } from '../../functions/src/fetch';
import { FetchError } from '../../functions/src/fetch/types';
import { kindsByCategory, startFaultSite, type FaultKind, type FaultPage, type FaultSite } from './fault-site';

const MAX_DELIVERY_ATTEMPTS = 5;

/** One delivery's fetch: 'ok', or the error code and whether a retry is due. */
async function attempt(site: FaultSite, page: FaultPage, options: Partial<FetchOptions>): Promise<{ code: string; retryable: boolean; title?: string | null }> {
  try {
    const fetched = await fetchPage(page.url, { ...options, resolver: site.resolver });
    return { code: 'ok', retryable: false, title: extractArticle(fetched.html, fetched.finalUrl).title };
  } catch (error) {
    assert.ok(error instanceof FetchError, `fetchPage rejected with ${String(error)}`);
    return { code: error.code, retryable: error.retryable };
  }
}

/** Plays the subscription: retry while retryable, at most MAX_DELIVERY_ATTEMPTS deliveries. */
async function deliverUntilTerminal(
  site: FaultSite,
  page: FaultPage,
  options: Partial<FetchOptions>,
): Promise<{ status: string; code?: string; attempts: number; title?: string | null; codes: string[] }> {
  const codes: string[] = [];
  for (let attempts = 1; ; attempts++) {
    const result = await attempt(site, page, options);
    codes.push(result.code);
    if (result.code === 'ok') return { status: 'done', attempts, title: result.title, codes };
    if (!result.retryable) return { status: 'failed', code: result.code, attempts, codes };
    if (attempts === MAX_DELIVERY_ATTEMPTS) return { status: 'failed', code: 'dead-lettered', attempts, codes };
  }
}

describe('reliability: the fault site', function () {
  const options: Partial<FetchOptions> = {
    allowPrivateNetworks: true,
    // Hangs end at the header timeout; the overall deadline leaves a redirect loop's hops time on a
    // loaded machine (at 1 s a four-hop loop sometimes timed out before its too-many-redirects).
    timeoutMs: 5_000,
    headersTimeoutMs: 600,
    maxBytes: 256 * 1024,
    // Every page at once: a slot wait must not eat the deadline of a page that never got to answer.
    perHostConcurrency: 256,
  };
  let site: FaultSite;

  before(async function () {
    site = await startFaultSite({ seed: 7, pages: 120, mix: { transient: 0.3, permanent: 0.2, never: 0.1 }, hosts: 3, slowMs: 50, oversizedBytes: 600 * 1024 });
  });
  after(async function () {
    await site?.stop();
  });

  it('has exactly the requested number of pages per category, every kind present', function () {
    assert.deepEqual(site.counts(), { healthy: 48, transient: 36, permanent: 24, never: 12, 'rate-limited': 0 });
    const kinds = new Set(site.pages.map((page) => page.kind));
    // Its mix leaves the rate-limiting host out (chaos.test.ts runs it through the pipeline).
    for (const kind of Object.entries(kindsByCategory).flatMap(([category, kinds]) => (category === 'rate-limited' ? [] : kinds))) assert.ok(kinds.has(kind as FaultKind), `no page of kind ${kind}`);
  });

  it('builds the same site from the same seed, a different one from another seed', async function () {
    const again = await startFaultSite({ seed: 7, pages: 120, mix: { transient: 0.3, permanent: 0.2, never: 0.1 }, hosts: 3 });
    const other = await startFaultSite({ seed: 8, pages: 120, mix: { transient: 0.3, permanent: 0.2, never: 0.1 }, hosts: 3 });
    try {
      const shape = (s: FaultSite): string[] => s.pages.map((page) => `${page.path} ${page.kind} ${page.failuresBeforeHealthy} ${page.title}`);
      assert.deepEqual(shape(again), shape(site));
      assert.notDeepEqual(shape(other), shape(site));
    } finally {
      await Promise.all([again.stop(), other.stop()]);
    }
  });

  it('ends every page the way it promises under the real fetcher and retry rules', async function () {
    this.timeout(60_000);
    const results = await Promise.all(site.pages.map(async (page) => ({ page, result: await deliverUntilTerminal(site, page, options) })));
    for (const { page, result } of results) {
      const expected = page.expected.status === 'done' ? { status: 'done' } : { status: 'failed', code: page.expected.code };
      assert.deepEqual({ status: result.status, ...(result.code ? { code: result.code } : {}) }, expected, `${page.kind} ${page.url}`);
      // A loaded machine may add a timeout of its own; the site's own failures come first, exactly k.
      if (page.category === 'transient') {
        assert.ok(result.attempts >= page.failuresBeforeHealthy + 1, `${page.kind} ${page.url} ${result.codes.join(' ')}`);
        assert.ok(site.requests(page.url) >= page.failuresBeforeHealthy + 1, page.url);
      }
      // A permanent failure is never retried for its own sake: the only earlier attempts allowed are
      // the loaded machine's own header timeouts (a redirect loop makes several hops inside 600 ms).
      if (page.category === 'permanent') {
        assert.deepEqual(result.codes.slice(0, -1).filter((code) => code !== 'timeout'), [], `${page.kind} ${page.url} ${result.codes.join(' ')}`);
      }
      if (page.kind === 'ok' || page.kind === 'slow' || page.category === 'transient') assert.equal(result.title, page.title, page.url);
    }
  });

  it('counts requests per page, redirect hops included, and refuses names it does not serve', async function () {
    const notFound = site.pages.find((page) => page.kind === 'http-404') as FaultPage;
    const loop = site.pages.find((page) => page.kind === 'redirect-loop') as FaultPage;
    const before404 = site.requests(notFound.url);
    const beforeLoop = site.requests(loop.url);
    await attempt(site, notFound, options);
    await attempt(site, loop, { ...options, maxRedirects: 3 });
    assert.equal(site.requests(notFound.url) - before404, 1);
    assert.equal(site.requests(loop.url) - beforeLoop, 4);
    await assert.rejects(site.resolver('example.com'), { code: 'ENOTFOUND' });
  });
});
