/**
 * Our own outage fails nothing: the scraper is killed (SIGKILL) and kept down far longer than the
 * subscription's retries last (backoff 0.1–1 s: five deliveries are spent in about 1.5 s), so every
 * message in flight is dead-lettered meanwhile. The recorder sees that their pages were not fetched
 * that often and re-queues them with a delay; every URL still ends as the site promised, and no URL
 * is failed without a fetch of its own. (Before re-queueing, 0.5 s of downtime at this backoff
 * turned healthy pages into `failed: dead-lettered` without a single request to them.)
 */
import assert from 'node:assert/strict';
import { runChaos, type ChaosReport } from './chaos';
import { scraperCrash } from './disturbances';
import { itPassesEveryCheck, SMALL } from './small-runs';

describe('reliability: the scraper down (SIGKILL) much longer than the retries last [embedded]', () => {
  let report: ChaosReport | undefined;

  before(async function () {
    this.timeout(180_000);
    report = await runChaos({
      ...SMALL,
      urls: 40,
      mix: { transient: 0.25, permanent: 0.15, never: 0.025 },
      hosts: 0,
      stack: { functionProcesses: 'scraper' },
      backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 },
      emulators: 'embedded',
      disturbance: scraperCrash({ downSeconds: 6, atTerminalFraction: 0.2 }),
    });
  });

  it('kept the scraper down while URLs were queued, and URLs were dead-lettered meanwhile', () => {
    assert.ok(report?.disturbance, 'the outage ran');
    assert.match(report.disturbance.figures['scraper down for'] ?? '', /^([6-9]|\d\d+)\.\d s$/);
  });

  itPassesEveryCheck(() => report);
});
