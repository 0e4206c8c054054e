/**
 * The scraper's process killed (SIGKILL) in the middle of a chaos run and started again: deliveries
 * in flight are cut off and pushes are refused while it is down, yet every URL still ends terminal,
 * nothing is lost or stored twice, and every page ends as the fault site promised.
 */
import assert from 'node:assert/strict';
import { runChaos, type ChaosReport } from './chaos';
import { scraperCrash } from './disturbances';
import { itPassesEveryCheck, SMALL } from './small-runs';

describe('reliability: chaos run with the scraper killed (SIGKILL) and restarted [embedded]', () => {
  let report: ChaosReport | undefined;

  before(async function () {
    this.timeout(150_000);
    report = await runChaos({
      ...SMALL,
      urls: 40,
      // Every kind of permanent failure once, one page that never succeeds (dead-lettered, possibly while
      // the scraper is down), ten transient ones.
      mix: { transient: 0.25, permanent: 0.15, never: 0.025 },
      // The scraper's own process takes no injected resolver: the site serves on 127.0.0.1 itself.
      hosts: 0,
      stack: { functionProcesses: 'scraper' },
      // Every push refused while the scraper is down costs a delivery attempt, as on the real service.
      // Backoff 1, 2, 4 s: a restart within 7 s costs at most three (the cut-off one and two refusals),
      // so a transient page failing once still has an attempt left to succeed.
      backoff: { minimumBackoffSeconds: 1, maximumBackoffSeconds: 4 },
      maxTransientFailures: 1,
      emulators: 'embedded',
      disturbance: scraperCrash({ downSeconds: 0.5, atTerminalFraction: 0.3 }),
    });
  });

  it('killed the scraper while URLs were queued and started it again', () => {
    assert.ok(report?.disturbance, 'the crash ran');
    assert.equal(report.disturbance.figures['processes killed'], '1');
    assert.match(report.disturbance.figures['first article terminal after it ended'] ?? '', /^\+\d+\.\d s$/);
  });

  itPassesEveryCheck(() => report);
});
