import assert from 'node:assert/strict';
import { BodyBudget } from '../../../functions/src/fetch/bodyBudget';

describe('BodyBudget', () => {
  const signal = new AbortController().signal;

  it('makes a younger body wait until an older one gives its bytes back', async () => {
    const budget = new BodyBudget(100);
    const older = budget.lease();
    const younger = budget.lease();
    await older.take(80, signal);
    let granted = false;
    const waiting = younger.take(50, signal).then(() => (granted = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(granted, false);
    older.release();
    await waiting;
    assert.equal(budget.held, 50);
    younger.release();
    assert.equal(budget.held, 0);
  });

  it('always lets the oldest body go on, so a full budget cannot deadlock', async () => {
    const budget = new BodyBudget(100);
    const oldest = budget.lease();
    const other = budget.lease();
    await other.take(100, signal);
    await oldest.take(1_000, signal);
    assert.equal(budget.held, 1_100);
  });

  it('gives up waiting when the fetch is aborted, and forgets the request', async () => {
    const budget = new BodyBudget(10);
    const first = budget.lease();
    const second = budget.lease();
    await first.take(10, signal);
    const controller = new AbortController();
    const waiting = second.take(5, controller.signal);
    controller.abort(new Error('deadline'));
    await assert.rejects(waiting, /deadline/);
    first.release();
    second.release();
    assert.equal(budget.held, 0);
  });
});
