import assert from 'node:assert/strict';
import { cappedRetryAfter, HostBackoff, requeueDelayMs } from '../../functions/src/retry';

describe('retry: waits the world asks for', () => {
  it('caps a Retry-After at its setting and ignores one that names no wait', () => {
    assert.equal(cappedRetryAfter(120_000, 600_000), 120_000);
    assert.equal(cappedRetryAfter(3_600_000, 600_000), 600_000);
    assert.equal(cappedRetryAfter(-5, 600_000), 0);
    assert.equal(cappedRetryAfter(undefined, 600_000), null);
  });

  it('closes a host for its Retry-After, then backs it off exponentially while the 429s go on, and opens it on success', () => {
    const hosts = new HostBackoff({ baseMs: 10_000, maxMs: 600_000, forgetAfterMs: 1_200_000 });
    const t0 = 1_000_000;
    assert.equal(hosts.blockedUntil('a.example', t0), null);
    assert.equal(hosts.rateLimited('a.example', 3_000, t0), t0 + 3_000);
    assert.equal(hosts.blockedUntil('a.example', t0 + 2_999), t0 + 3_000);
    assert.equal(hosts.blockedUntil('a.example', t0 + 3_000), null);
    assert.equal(hosts.blockedUntil('b.example', t0), null, 'other hosts stay open');
    // Second, third, fourth 429 in a row: 20 s, 40 s, 80 s (each more than the 3 s asked for).
    const waits = [1, 2, 3].map((n) => hosts.rateLimited('a.example', 3_000, t0 + n * 100_000) - (t0 + n * 100_000));
    assert.deepEqual(waits, [20_000, 40_000, 80_000]);
    assert.equal(hosts.strikes('a.example'), 4);
    // Never beyond the cap.
    for (let n = 0; n < 10; n++) hosts.rateLimited('a.example', null, t0 + 400_000 + n);
    assert.equal(hosts.blockedUntil('a.example', t0 + 400_010), t0 + 400_009 + 600_000);
    hosts.succeeded('a.example');
    assert.equal(hosts.blockedUntil('a.example', t0 + 400_010), null);
    // A first 429 naming no wait closes the host for the base.
    assert.equal(hosts.rateLimited('c.example', null, t0), t0 + 10_000);
  });

  it('closes a host for the Retry-After from the third 503 with one in a row, not before', () => {
    const hosts = new HostBackoff({ baseMs: 10_000, maxMs: 600_000, forgetAfterMs: 1_200_000 });
    assert.equal(hosts.unavailable('d.example', 60_000, 0), null);
    assert.equal(hosts.unavailable('d.example', 60_000, 10), null);
    assert.equal(hosts.blockedUntil('d.example', 20), null, 'two pages answering 503 are their own business');
    assert.equal(hosts.unavailable('d.example', 60_000, 20), 60_020);
    assert.equal(hosts.blockedUntil('d.example', 30), 60_020);
    hosts.succeeded('d.example');
    assert.equal(hosts.unavailable('d.example', 60_000, 70_000), null, 'a success starts the count again');
  });

  it('delays re-queues after our own outage by a doubling delay, capped', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => requeueDelayMs(n, 2_000, 30_000)), [2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });
});
