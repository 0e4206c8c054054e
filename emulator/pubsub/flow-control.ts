/**
 * Push flow control of a push subscription, as Google's push subscription documentation describes
 * the real service (https://cloud.google.com/pubsub/docs/push, "Delivery rate" and "Push backoff"):
 * "Pub/Sub dynamically adjusts the rate of push requests based on the rate at which it receives
 * success responses". The pushes in flight are limited by a push window that starts small (slow
 * start), grows with every success and shrinks with every failure; after too many negative
 * acknowledgements a push backoff pauses delivery for the whole subscription, from 100 ms up to 60 s.
 * The exact constants are not published; the ones here are ours (emulator/README.md).
 */

/** Settings of the model. */
export interface PushFlowOptions {
  /** Window of a new subscription (the real service starts with a small single-digit window). */
  initialWindow: number;
  /** Largest window (the broker's pushConcurrency caps it too). */
  maxWindow: number;
  /** First push backoff, doubled per backoff in a row (100 ms on the real service)… */
  minBackoffMs: number;
  /** …up to this (60 s on the real service). */
  maxBackoffMs: number;
  /** Outcomes looked at to decide whether there were "too many" nacks. */
  recentOutcomes: number;
  /** A nack starts a push backoff when at least this share of the recent outcomes were nacks. */
  backoffNackShare: number;
}

/** The defaults of the model. */
export const defaultPushFlow: PushFlowOptions = {
  initialWindow: 3,
  maxWindow: 1000,
  minBackoffMs: 100,
  maxBackoffMs: 60_000,
  recentOutcomes: 10,
  backoffNackShare: 0.5,
};

/** What a push subscription's flow control looks like now (for tests and logs). */
export interface PushFlowState {
  window: number;
  /** Epoch ms until which no push starts; 0 when none. */
  backoffUntil: number;
  /** The last push backoff's length (0 after a success). */
  backoffMs: number;
}

/**
 * The push window and push backoff of one subscription. Slow start: the window grows by one per
 * success (so it doubles per round of answers) up to `maxWindow`; a failure halves it (at least 1)
 * and, when failures dominate the recent outcomes, starts a push backoff twice as long as the last.
 */
export class PushFlow {
  private window: number;
  private backoffUntil = 0;
  private backoffMs = 0;
  private readonly outcomes: boolean[] = [];

  constructor(private readonly options: PushFlowOptions = defaultPushFlow) {
    this.window = Math.max(1, Math.min(options.initialWindow, options.maxWindow));
  }

  /** How many more pushes may start now, with `inFlight` already out (0 during a push backoff). */
  room(inFlight: number, now: number): number {
    if (now < this.backoffUntil) return 0;
    return Math.max(0, this.window - inFlight);
  }

  /** Milliseconds until the push backoff ends; 0 when there is none. */
  backoffRemaining(now: number): number {
    return Math.max(0, this.backoffUntil - now);
  }

  /** Counts one push's answer: an ack (2xx) or a nack (any other answer, an error, no answer). */
  record(acked: boolean, now: number): void {
    this.outcomes.push(acked);
    if (this.outcomes.length > this.options.recentOutcomes) this.outcomes.shift();
    if (acked) {
      this.window = Math.min(this.options.maxWindow, this.window + 1);
      this.backoffMs = 0;
      return;
    }
    this.window = Math.max(1, Math.floor(this.window / 2));
    const nacks = this.outcomes.filter((outcome) => !outcome).length;
    if (nacks >= this.outcomes.length * this.options.backoffNackShare && now >= this.backoffUntil) {
      this.backoffMs = this.backoffMs === 0 ? this.options.minBackoffMs : Math.min(this.options.maxBackoffMs, this.backoffMs * 2);
      this.backoffUntil = now + this.backoffMs;
    }
  }

  state(): PushFlowState {
    return { window: this.window, backoffUntil: this.backoffUntil, backoffMs: this.backoffMs };
  }
}
