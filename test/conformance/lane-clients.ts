/** The official clients and small helpers the Pub/Sub conformance suites share, for one lane. */
import { PubSub, v1 } from '@google-cloud/pubsub';
import type { google } from '@google-cloud/pubsub/build/protos/protos';
import type { Lane } from '../helpers/lanes';

export type ReceivedMessage = google.pubsub.v1.IReceivedMessage;

type ClientOptions = ConstructorParameters<typeof v1.SubscriberClient>[0];

/** Clients of one suite, created in `before` and closed in `after`. */
export interface PubSubClients {
  pubsub: PubSub;
  publisher: v1.PublisherClient;
  subscriber: v1.SubscriberClient;
  schemas: v1.SchemaServiceClient;
  /** A resource id unique to this run. */
  unique(prefix: string): string;
  /** Pulls (unary) until `count` messages arrived or `timeoutMs` passed. */
  pullAtLeast(subscription: string, count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** What a few unary pulls over `ms` return: for asserting that nothing (more) is delivered. */
  pullFor(subscription: string, ms: number): Promise<ReceivedMessage[]>;
}

/** Declares before/after hooks that create and close the clients; use the result inside tests. */
export function laneClients(lane: Lane): PubSubClients {
  let counter = 0;
  const clients = {
    unique: (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}`,
  } as PubSubClients;
  before(() => {
    clients.pubsub = new PubSub({ projectId: lane.projectId, apiEndpoint: lane.emulators().hosts.pubsub });
    // The generated clients share the emulator settings (servicePath, port, insecure credentials).
    const options = clients.pubsub.options as ClientOptions;
    clients.publisher = new v1.PublisherClient(options);
    clients.subscriber = new v1.SubscriberClient(options);
    clients.schemas = new v1.SchemaServiceClient(options);
  });
  after(async () => {
    await Promise.all([clients.publisher.close(), clients.subscriber.close(), clients.schemas.close()]);
    await clients.pubsub.close();
  });
  clients.pullAtLeast = async (subscription, count, timeoutMs = 15_000) => {
    const received: ReceivedMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (received.length < count && Date.now() < deadline) {
      const [response] = await clients.subscriber.pull(
        { subscription, maxMessages: count - received.length },
        { timeout: Math.max(1_000, deadline - Date.now()) },
      );
      received.push(...(response.receivedMessages ?? []));
    }
    return received;
  };
  clients.pullFor = async (subscription, ms) => {
    const received: ReceivedMessage[] = [];
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const [response] = await clients.subscriber.pull(
        { subscription, maxMessages: 100, returnImmediately: true },
        { timeout: 5_000 },
      );
      received.push(...(response.receivedMessages ?? []));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return received;
  };
  return clients;
}

/** The text of a received message's data. */
export const text = (received: ReceivedMessage): string => Buffer.from(received.message!.data as Uint8Array).toString();
