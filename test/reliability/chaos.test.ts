/**
 * Chaos, small size: the fault site's pages through the whole pipeline on each emulator lane, every
 * outcome checked against the site's promise (see chaos.ts). `npm run chaos` is the full size.
 */
import assert from 'node:assert/strict';
import { urlKey } from '../../functions/src/urls';
import { forEachLane } from '../helpers/lanes';
import { evaluate, formatReport, runChaos, type ChaosReport, type PortfolioView, type StoredArticle, type Submission } from './chaos';
import { startFaultSite, type FaultSite } from './fault-site';

/** Every kind of page at least twice: 120 URLs of which 30 transient, 12 permanent, 6 never succeed. */
const MIX = { transient: 0.25, permanent: 0.1, never: 0.05 };
const CHECKS = ['terminal', 'lost', 'duplicates', 'as-promised', 'views', 'dead-letters', 'transient', 'requests'] as const;

/** One `it` per check of a report, each failing with the check's figures and first offenders. */
export function itPassesEveryCheck(report: () => ChaosReport | undefined): void {
  for (const id of CHECKS) {
    it(`check: ${id}`, function () {
      const current = report();
      if (!current) this.skip();
      const check = current.checks.find((entry) => entry.id === id);
      assert.ok(check, `the run reported no "${id}" check`);
      assert.ok(check.ok, `${check.name}: ${check.detail}\n\n${formatReport(current)}`);
    });
  }
}

forEachLane('reliability: chaos run, small', (lane) => {
  let report: ChaosReport | undefined;
  // The official Pub/Sub emulator spaces redeliveries ~3 s apart whatever the policy: fewer URLs there.
  const urls = lane.kind === 'gcloud' ? 60 : 120;

  before(async function () {
    this.timeout(120_000);
    report = await runChaos({
      urls,
      seed: 11,
      portfolioSize: 30,
      mix: MIX,
      // Two failures at most: a timeout the load adds still leaves a transient page two spare attempts.
      maxTransientFailures: 2,
      hosts: 4,
      running: lane.emulators(),
      settleTimeoutMs: 90_000,
      // A hang costs 1.2 s here, not 2 s: the small run's wall time is mostly its hanging pages.
      fetchEnv: { FETCH_HEADERS_TIMEOUT_MS: '1200', FETCH_BODY_IDLE_TIMEOUT_MS: '1200' },
    });
  });

  it(`submits ${urls} URLs over several portfolios, some twice, and reports per category`, function () {
    assert.ok(report);
    assert.equal(report.urls, urls);
    assert.ok(report.portfolios >= 2);
    assert.equal(report.accepted, urls + report.resubmitted);
    assert.deepEqual(
      report.rows.map((row) => [row.category, row.pages]),
      lane.kind === 'gcloud'
        ? [['healthy', 36], ['transient', 15], ['permanent', 6], ['never', 3]]
        : [['healthy', 72], ['transient', 30], ['permanent', 12], ['never', 6]],
    );
  });

  itPassesEveryCheck(() => report);
});

describe('reliability: chaos checks catch what they claim to', () => {
  let site: FaultSite;
  let perfect: { submissions: Submission[]; views: Map<string, PortfolioView | null>; articles: StoredArticle[]; requests: Map<string, number> };

  before(async () => {
    site = await startFaultSite({ seed: 5, pages: 40, mix: { transient: 0.25, permanent: 0.25, never: 0.1 }, hosts: 2 });
    await site.stop();
    const requests = new Map<string, number>();
    const articles: StoredArticle[] = site.pages.map((page) => {
      requests.set(page.url, page.category === 'never' ? 5 : page.category === 'transient' ? page.failuresBeforeHealthy + 1 : page.kind === 'redirect-loop' ? 6 : page.kind === 'redirect-ok' ? 2 : 1);
      return {
        id: urlKey(page.url),
        canonicalUrl: page.url,
        status: page.expected.status,
        code: page.expected.status === 'failed' ? page.expected.code : null,
        attempts: page.category === 'never' ? 5 : 1,
        title: page.expected.status === 'done' ? page.title : null,
        terminalAt: 0,
      };
    });
    const urls = site.pages.map((page) => page.url);
    const submissions = [{ portfolioId: 'p1', urls }];
    const statusOf = new Map(articles.map((article) => [article.canonicalUrl, article.status]));
    const views = new Map<string, PortfolioView | null>([
      ['p1', { portfolioId: 'p1', counts: { queued: 0, done: 27, failed: 13 }, articles: urls.map((url) => ({ url, status: statusOf.get(url) ?? 'queued', attempts: 1 })) }],
    ]);
    perfect = { submissions, views, articles, requests };
  });

  function failing(change: (input: typeof perfect) => void): string[] {
    const input = structuredClone(perfect);
    change(input);
    const fake: FaultSite = { ...site, requests: (url) => input.requests.get(url) ?? 0 };
    const { checks } = evaluate({ site: fake, ...input, resubmitted: new Set(), maxDeliveryAttempts: 5, maxRedirects: 5, disturbed: false });
    return checks.filter((check) => !check.ok).map((check) => check.id);
  }

  it('pass on a run that went exactly as promised', () => {
    assert.deepEqual(failing(() => undefined), []);
  });

  it('catch a URL left queued, a lost document, a duplicate, a wrong outcome and an extra dead letter', () => {
    const transient = site.pages.find((page) => page.category === 'transient')!;
    const never = site.pages.find((page) => page.category === 'never')!;
    assert.deepEqual(
      failing((input) => {
        const entry = input.views.get('p1')!.articles[0]!;
        entry.status = 'queued';
        input.views.get('p1')!.counts.queued = 1;
      }),
      ['terminal', 'views'],
    );
    assert.deepEqual(failing((input) => void input.articles.pop()), ['lost', 'duplicates', 'as-promised', 'views']);
    assert.deepEqual(failing((input) => void input.articles.push({ ...input.articles[0]!, id: 'other-key' })), ['duplicates']);
    assert.deepEqual(
      failing((input) => {
        const article = input.articles.find((entry) => entry.canonicalUrl === transient.url)!;
        Object.assign(article, { status: 'failed', code: 'dead-lettered', attempts: 5, title: null });
        input.views.get('p1')!.articles.find((entry) => entry.url === transient.url)!.status = 'failed';
      }),
      ['as-promised', 'dead-letters', 'transient'],
    );
    assert.deepEqual(failing((input) => void input.requests.set(never.url, 4)), ['requests']);
  });
});
