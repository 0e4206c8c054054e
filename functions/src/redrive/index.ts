/**
 * Redrive: replay a portfolio's dead letters. Every dead-lettered message also lands on the audit
 * pull subscription of the dead-letter topic (nothing consumes it; Pub/Sub keeps it 7 days). This
 * reads that subscription, republishes the portfolio's messages to the article topic with their
 * original data and attributes (Pub/Sub's CloudPubSubDeadLetter* attributes dropped), and acks each
 * only once its republish is confirmed. Other portfolios' messages are left unacknowledged: they
 * come back to the subscription when this process lets go of them.
 *
 * A republished message is a new submission: the scraper gives the failed article a new round, as
 * `POST /portfolios/{id}/retry` or submitting the URL again would; feed messages are replayed too.
 */
import type { Message, PubSub } from '@google-cloud/pubsub';
import { messageAttributes } from '../topology';

/** What to replay. */
export interface RedriveOptions {
  portfolioId: string;
  /** Topic to republish to (the article topic). */
  topic: string;
  /** The dead-letter audit subscription. */
  subscription: string;
  /** Stop after this long without a new message (default 3 s). */
  idleMs?: number;
  /** Republish at most this many (default 10,000). */
  limit?: number;
  /** Count only: republish and ack nothing. */
  dryRun?: boolean;
  /** Called once per message read (for progress output). */
  onMessage?: (event: { messageId: string; portfolioId: string | undefined; action: 'republished' | 'would-republish' | 'left' }) => void;
}

/** What a redrive did. */
export interface RedriveResult {
  /** Messages of the portfolio republished (and acked on the audit subscription). */
  republished: number;
  /** Messages of the portfolio a dry run found. */
  found: number;
  /** Messages of other portfolios, left on the subscription. */
  left: number;
}

/** The attributes to republish: the original ones, without what dead-lettering added. */
export function republishAttributes(attributes: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).filter(([name]) => !name.startsWith('CloudPubSubDeadLetter')));
}

/** Reads the audit subscription until it is idle and republishes the portfolio's dead letters. */
export async function redrive(pubsub: PubSub, options: RedriveOptions): Promise<RedriveResult> {
  const idleMs = options.idleMs ?? 3000;
  const limit = options.limit ?? 10_000;
  const result: RedriveResult = { republished: 0, found: 0, left: 0 };
  const topic = pubsub.topic(options.topic);
  // Held messages are leased until the end, so none is read twice; allow many of them at once.
  const subscription = pubsub.subscription(options.subscription, { flowControl: { maxMessages: limit + 1000, allowExcessMessages: true } });
  const seen = new Set<string>();
  const held: Message[] = [];
  const pending: Promise<void>[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let timer = setTimeout(resolve, idleMs);
      const touch = (): void => {
        clearTimeout(timer);
        timer = setTimeout(resolve, idleMs);
      };
      subscription.on('error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
      subscription.on('message', (message: Message) => {
        if (seen.has(message.id)) return;
        seen.add(message.id);
        touch();
        const portfolioId = message.attributes[messageAttributes.portfolioId];
        if (portfolioId !== options.portfolioId || result.found >= limit) {
          result.left += 1;
          held.push(message);
          options.onMessage?.({ messageId: message.id, portfolioId, action: 'left' });
          return;
        }
        result.found += 1;
        if (options.dryRun) {
          held.push(message);
          options.onMessage?.({ messageId: message.id, portfolioId, action: 'would-republish' });
          return;
        }
        pending.push(
          topic.publishMessage({ data: message.data, attributes: republishAttributes(message.attributes) }).then(
            () => {
              message.ack();
              result.republished += 1;
              options.onMessage?.({ messageId: message.id, portfolioId, action: 'republished' });
            },
            (error: unknown) => {
              // Not republished: it stays on the audit subscription for the next run.
              held.push(message);
              reject(error instanceof Error ? error : new Error(String(error)));
            },
          ),
        );
      });
    });
    await Promise.all(pending);
  } finally {
    // What was not republished goes back to the subscription at once.
    for (const message of held) message.nack();
    await subscription.close().catch(() => undefined);
  }
  return result;
}
