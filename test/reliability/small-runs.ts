/**
 * What the chaos tests share: the size of a small run, and one mocha test per check of its report.
 */
import assert from 'node:assert/strict';
import { formatReport, type ChaosOptions, type ChaosReport } from './chaos';

/** Small runs: every kind of page at least twice in 120 URLs (30 transient, 12 permanent, 6 never succeed, 6 on the rate-limiting host). */
export const SMALL: Omit<ChaosOptions, 'urls'> = {
  seed: 11,
  portfolioSize: 30,
  mix: { transient: 0.25, permanent: 0.1, never: 0.05, rateLimited: 0.05 },
  // Two failures at most: a timeout the load adds still leaves a transient page two spare attempts.
  maxTransientFailures: 2,
  hosts: 4,
  settleTimeoutMs: 120_000,
  // A hang costs 1.2 s here, not 2 s: a small run's wall time is mostly its hanging pages.
  fetchEnv: { FETCH_HEADERS_TIMEOUT_MS: '1200', FETCH_BODY_IDLE_TIMEOUT_MS: '1200' },
};
const CHECKS = ['terminal', 'lost', 'duplicates', 'as-promised', 'views', 'dead-letters', 'transient', 'requests', 'own-fault', 'retry-after'] as const;

/** One `it` per check of a report, each failing with the check's figures and first offenders. */
export function itPassesEveryCheck(report: () => ChaosReport | undefined): void {
  for (const id of CHECKS) {
    it(`check: ${id}`, () => {
      const current = report();
      assert.ok(current, 'the run produced no report');
      const check = current.checks.find((entry) => entry.id === id);
      assert.ok(check, `the run reported no "${id}" check`);
      assert.ok(check.ok, `${check.name}: ${check.detail}\n\n${formatReport(current)}`);
    });
  }
}
