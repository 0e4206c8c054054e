/**
 * Publishing a URL message again (scrape.ts Requeue): to the delay topic to wait, or to the article
 * topic when a wait is over. The Pub/Sub client is made on the first publish, so an instance that
 * never parks a message never loads it.
 */
import type { PubSub } from '@google-cloud/pubsub';
import type { Config } from '../config';
import type { Requeue, UrlMessage } from '../scrape';

/** A Requeue over the client `pubsub()` resolves to (asked for once, on the first publish). */
export function requeuer(pubsub: () => Promise<PubSub> | PubSub, config: Pick<Config, 'topic' | 'delayTopic'>): Requeue {
  let client: Promise<PubSub> | undefined;
  const send = (topicName: string) => async (message: UrlMessage, attributes: Record<string, string>): Promise<void> => {
    client ??= Promise.resolve(pubsub());
    const topic = (await client).topic(topicName, { batching: { maxMessages: 100, maxMilliseconds: 5 } });
    await topic.publishMessage({ data: Buffer.from(JSON.stringify(message)), attributes });
  };
  return { delay: send(config.delayTopic), again: send(config.topic) };
}

/** The deployed functions' client: loaded on first use (a cold start without a park pays nothing for it). */
export function lazyPubSub(projectId: string): () => Promise<PubSub> {
  return async () => {
    const { PubSub: Client } = await import('@google-cloud/pubsub');
    // The client library picks up PUBSUB_EMULATOR_HOST itself.
    return new Client({ projectId });
  };
}
