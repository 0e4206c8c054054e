/** Clamped delivery counts and the rounds a dead letter may end (issue 14). */
import assert from 'node:assert/strict';
import { clampDeliveryCount, deadLetterChange, decodePushEnvelope, MAX_DELIVERY_COUNT } from '../../functions/src/scrape';
import { queuedArticle, type ArticleRecord } from '../../functions/src/store';
import { delivery, pushBody, urlMessage } from './fakes';

const URL_A = 'https://example.com/a';
const T0 = new Date('2026-01-01T00:00:00Z');
const NOW = new Date('2026-01-01T01:00:00Z');

function deadLetter(count: string, sourcePublished: Date | null = T0) {
  return delivery(URL_A, {
    attributes: {
      CloudPubSubDeadLetterSourceDeliveryCount: count,
      ...(sourcePublished ? { CloudPubSubDeadLetterSourceTopicPublishTime: sourcePublished.toISOString() } : {}),
    },
  });
}

describe('delivery counts', () => {
  it('clamps counts to 1..100 and drops what is not a positive integer', () => {
    assert.equal(clampDeliveryCount(3), 3);
    assert.equal(clampDeliveryCount('7'), 7);
    assert.equal(clampDeliveryCount(1e308), MAX_DELIVERY_COUNT);
    assert.equal(clampDeliveryCount('999999999'), MAX_DELIVERY_COUNT);
    for (const bad of [0, -1, 2.5, Number.NaN, Infinity, '1e3', '', 'five', null, undefined, {}]) assert.equal(clampDeliveryCount(bad), null, String(bad));
  });

  it('never takes a deliveryAttempt of 1e308 from a push envelope as it is', () => {
    assert.equal(decodePushEnvelope(pushBody(urlMessage(URL_A), { deliveryAttempt: 1e308 })).deliveryAttempt, MAX_DELIVERY_COUNT);
    assert.equal(decodePushEnvelope(pushBody(urlMessage(URL_A), { deliveryAttempt: 4 })).deliveryAttempt, 4);
  });
});

describe('deadLetterChange', () => {
  const queued = (changes: Partial<ArticleRecord> = {}): ArticleRecord => ({ ...queuedArticle(urlMessage(URL_A), T0), attempts: 2, ...changes });

  it('records the article\'s own fetch count, never a forged delivery count', () => {
    const change = deadLetterChange(queued(), deadLetter('999999999'), NOW);
    assert.equal(change.next?.status, 'failed');
    assert.equal(change.next?.attempts, 2);
    assert.equal(deadLetterChange(queued(), deadLetter('garbage'), NOW).next?.attempts, 2);
  });

  it('does not end a newer round: an article resolved after the message was published and queued again since', () => {
    // Round 1 (the dead-lettered message, published at T0) ended at T0 + 1 min; round 2 has retried once.
    const inNewerRound = queued({ terminalAt: new Date(T0.getTime() + 60_000), lastError: { code: 'http-503', message: 'retry', at: NOW } });
    const change = deadLetterChange(inNewerRound, deadLetter('5'), NOW);
    assert.equal(change.next, null);
    assert.equal(change.result.kind === 'skipped' && change.result.reason, 'newer-round');
    // Its own round (published after the last resolution) it does end.
    assert.equal(deadLetterChange(inNewerRound, deadLetter('5', new Date(T0.getTime() + 120_000)), NOW).next?.status, 'failed');
  });

  it('never overwrites done', () => {
    const done = queued({ status: 'done', terminalAt: T0 });
    assert.equal(deadLetterChange(done, deadLetter('5', null), NOW).next, null);
  });
});
