import assert from 'node:assert/strict';
import { groupCalls } from '../../functions/src/batching';

/** A batch runner whose batches finish only when the test says; it records every batch it got. */
function controlledRunner() {
  const batches: { items: number[]; finish: () => void; fail: (error: unknown) => void }[] = [];
  const run = (items: number[]): Promise<string[]> =>
    new Promise((resolve, reject) => {
      batches.push({ items, finish: () => resolve(items.map((item) => `r${item}`)), fail: reject });
    });
  return { batches, run };
}

const settled = async (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('groupCalls', () => {
  it('sends a lone call at once, without waiting for company', async () => {
    const { batches, run } = controlledRunner();
    const call = groupCalls(run, { maxInFlight: 1, maxBatch: 10 });
    const result = call(1);
    assert.deepEqual(
      batches.map((batch) => batch.items),
      [[1]],
    );
    batches[0]?.finish();
    assert.equal(await result, 'r1');
  });

  it('queues calls while maxInFlight batches run and sends them together, at most maxBatch at a time', async () => {
    const { batches, run } = controlledRunner();
    const call = groupCalls(run, { maxInFlight: 2, maxBatch: 3 });
    const results = [1, 2, 3, 4, 5, 6, 7].map(call);
    // 1 and 2 go out alone (two slots); 3–7 wait.
    assert.deepEqual(
      batches.map((batch) => batch.items),
      [[1], [2]],
    );
    batches[0]?.finish();
    await settled();
    assert.deepEqual(batches[2]?.items, [3, 4, 5]);
    batches[1]?.finish();
    await settled();
    assert.deepEqual(batches[3]?.items, [6, 7]);
    batches[2]?.finish();
    batches[3]?.finish();
    assert.deepEqual(await Promise.all(results), ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
    assert.equal(batches.length, 4);
  });

  it('fails only the calls of a failed batch, and keeps serving the rest', async () => {
    const { batches, run } = controlledRunner();
    const call = groupCalls(run, { maxInFlight: 1, maxBatch: 10 });
    const first = call(1);
    const second = call(2);
    const third = call(3);
    batches[0]?.fail(new Error('unavailable'));
    await assert.rejects(first, /unavailable/);
    await settled();
    assert.deepEqual(batches[1]?.items, [2, 3]);
    batches[1]?.finish();
    assert.deepEqual(await Promise.all([second, third]), ['r2', 'r3']);
    const later = call(4);
    batches[2]?.finish();
    assert.equal(await later, 'r4');
  });

  it('turns a runner that throws, or answers the wrong number of results, into rejected calls', async () => {
    const throwing = groupCalls<number, number>(
      () => {
        throw new Error('refused at once');
      },
      { maxInFlight: 1, maxBatch: 5 },
    );
    await assert.rejects(throwing(1), /refused at once/);
    await assert.rejects(throwing(2), /refused at once/);

    const short = groupCalls<number, number>(async () => [], { maxInFlight: 1, maxBatch: 5 });
    await assert.rejects(short(1), /A batch of 1 returned 0 results/);
  });

  it('with lingerMs, holds a batch that long for company, and sends a full one at once', async () => {
    const { batches, run } = controlledRunner();
    const call = groupCalls(run, { maxInFlight: 2, maxBatch: 3, lingerMs: 30 });
    const first = [call(1), call(2)];
    await settled();
    assert.equal(batches.length, 0, 'nothing goes out before the linger ends');
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.deepEqual(
      batches.map((batch) => batch.items),
      [[1, 2]],
    );
    const full = [3, 4, 5].map(call);
    assert.deepEqual(batches[1]?.items, [3, 4, 5], 'a full batch does not wait');
    for (const batch of batches) batch.finish();
    assert.deepEqual(await Promise.all([...first, ...full]), ['r1', 'r2', 'r3', 'r4', 'r5']);
  });

  it('refuses limits that would never send anything', () => {
    assert.throws(() => groupCalls(async () => [], { maxInFlight: 0, maxBatch: 1 }), RangeError);
    assert.throws(() => groupCalls(async () => [], { maxInFlight: 1, maxBatch: 0 }), RangeError);
  });
});
