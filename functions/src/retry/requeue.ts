/**
 * Publishing a URL message again (scrape.ts Requeue): to the delay topic to wait, or to the article
 * topic when a wait is over. The Pub/Sub client is made on the first publish, so an instance that
 * never parks a message never loads it.
 */
import type { PubSub, Topic } from '@google-cloud/pubsub';
import type { Config } from '../config';
import type { Requeue, UrlMessage } from '../scrape';

/**
 * How long a park's publish waits for others to share its Publish RPC. A host that closes parks its
 * URLs in bursts, and one RPC per message cost more CPU than the rest of a parked delivery; the
 * publishes of one batch also resolve together, so the deliveries' wait notes then share a commit.
 */
export const PARK_BATCH_MS = 10;

/** A Requeue over the client `pubsub()` resolves to (asked for once, on the first publish). */
export function requeuer(pubsub: () => Promise<PubSub> | PubSub, config: Pick<Config, 'topic' | 'delayTopic'>): Requeue {
  let client: Promise<PubSub> | undefined;
  // One Topic per name for the instance's life: each Topic has its own publish batch, so a Topic made
  // per call sent one Publish RPC per parked message (200 for a host's 200 URLs) instead of a few.
  const topics = new Map<string, Topic>();
  const send = (topicName: string, batchMs: number) => async (message: UrlMessage, attributes: Record<string, string>): Promise<void> => {
    client ??= Promise.resolve(pubsub());
    const resolved = await client;
    let topic = topics.get(topicName);
    if (topic === undefined) {
      topic = resolved.topic(topicName, { batching: { maxMessages: 100, maxMilliseconds: batchMs } });
      topics.set(topicName, topic);
    }
    await topic.publishMessage({ data: Buffer.from(JSON.stringify(message)), attributes });
  };
  // A park waits seconds to minutes anyway: its publish may wait PARK_BATCH_MS for company.
  return { delay: send(config.delayTopic, PARK_BATCH_MS), again: send(config.topic, 5) };
}

/** The deployed functions' client: loaded on first use (a cold start without a park pays nothing for it). */
export function lazyPubSub(projectId: string): () => Promise<PubSub> {
  return async () => {
    const { PubSub: Client } = await import('@google-cloud/pubsub');
    // The client library picks up PUBSUB_EMULATOR_HOST itself.
    return new Client({ projectId });
  };
}
