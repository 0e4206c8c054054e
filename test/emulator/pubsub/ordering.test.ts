import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OrderedKeys } from '../../../emulator/pubsub/ordering';

interface Delivery {
  readonly seq: number;
}

/** One step a subscriber or the broker can take on a key. */
type Step =
  | { kind: 'publish' }
  | { kind: 'take'; max: number; holder: 0 | 1 }
  | { kind: 'ack'; pick: number }
  | { kind: 'fail'; pick: number; deadLetter: boolean }
  | { kind: 'unblock' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ kind: 'publish' as const }),
  fc.record({ kind: fc.constant('take' as const), max: fc.integer({ min: 1, max: 5 }), holder: fc.constantFrom(0 as const, 1 as const) }),
  fc.record({ kind: fc.constant('ack' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('fail' as const), pick: fc.nat(), deadLetter: fc.boolean() }),
  fc.constant({ kind: 'unblock' as const }),
);

describe('ordering keys (emulator/pubsub/ordering.ts)', () => {
  it('never leases a message of a key before the ones published ahead of it are done with', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
        const keys = new OrderedKeys<Delivery>();
        const holders = [{}, {}];
        let published = 0;
        const leased: Array<{ delivery: Delivery; holder: number }> = [];
        const done = new Set<number>(); // acked or dead-lettered
        const leases: number[] = [];
        for (const s of steps) {
          if (s.kind === 'publish') keys.enqueue('k', { seq: published++ });
          else if (s.kind === 'unblock') keys.unblock('k');
          else if (s.kind === 'take') {
            for (const delivery of keys.take(holders[s.holder]!, s.max, false)) {
              // Everything published before it is leased, or done with: nothing earlier is waiting.
              for (let earlier = 0; earlier < delivery.seq; earlier++) {
                const held = leased.find((l) => l.delivery.seq === earlier);
                assert.ok(done.has(earlier) || held, `${delivery.seq} leased while ${earlier} waits`);
                if (held) assert.equal(held.holder, s.holder, 'a key stays with the holder of its earlier leases');
              }
              leased.push({ delivery, holder: s.holder });
              leases.push(delivery.seq);
            }
          } else if (leased.length > 0) {
            const { delivery } = leased.splice(s.pick % leased.length, 1)[0]!;
            if (s.kind === 'ack') {
              keys.settle('k', delivery);
              done.add(delivery.seq);
            } else {
              const { revoked, revived } = keys.fail('k', delivery, s.deadLetter);
              for (const r of revoked) leased.splice(leased.findIndex((l) => l.delivery === r), 1);
              for (const r of revived) done.delete(r.seq);
              if (s.deadLetter) done.add(delivery.seq);
              // Everything after the failed message that was handed out comes back behind it.
              for (const later of leased) assert.ok(later.delivery.seq < delivery.seq);
            }
          }
        }
        // The lease sequence never skips ahead: each lease is at most the successor of the one before.
        for (let i = 1; i < leases.length; i++) assert.ok(leases[i]! <= leases[i - 1]! + 1 || done.has(leases[i]! - 1), leases.join(','));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps one outstanding message per key for push', () => {
    const keys = new OrderedKeys<Delivery>();
    const push = {};
    for (let seq = 0; seq < 3; seq++) keys.enqueue('a', { seq });
    keys.enqueue('b', { seq: 3 });
    const first = keys.take(push, 10, true);
    assert.deepEqual(first.map((d) => d.seq), [0, 3]);
    assert.deepEqual(keys.take(push, 10, true), []);
    keys.settle('a', first[0]!);
    assert.deepEqual(keys.take(push, 10, true).map((d) => d.seq), [1]);
  });
});
