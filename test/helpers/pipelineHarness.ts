/**
 * The pipeline wired as production wires it, for the integration tests and the ingest benchmark: emulators, the three
 * functions served by functions-framework on their own loopback ports, topic → push subscription
 * (retry policy, dead-letter policy) → scraper, dead-letter topic → push subscription → recorder.
 *
 * Stand-in until the coordinator's `startLocalStack` (emulator/stack.ts) is on main; it uses only
 * what main has (the embedded emulators and the gcloud launcher).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Firestore } from '@google-cloud/firestore';
import * as functionsFramework from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { PubSub, type Topic } from '@google-cloud/pubsub';
import { startFirestoreEmulator } from '../../emulator/firestore';
import { gcloudAvailability, startGcloudPubSub } from '../../emulator/gcloud';
import { startPubSubEmulator } from '../../emulator/pubsub';
import { createFunctions } from '../../functions/src/app';
import { parseConfig } from '../../functions/src/config';
import type { Config } from '../../functions/src/config';
import type { Logger } from '../../functions/src/log';
import { topology, type RetryBackoff } from '../../functions/src/topology';

process.env.METADATA_SERVER_DETECTION ??= 'none';

/** Which emulators a harness runs on. */
export type HarnessKind = 'embedded' | 'gcloud';

/** Why `kind` can't run here (or isn't wanted: TEST_LANES=embedded), or null when it can. */
export function harnessSkipReason(kind: HarnessKind): string | null {
  const wanted = process.env.TEST_LANES?.split(',').map((lane) => lane.trim());
  if (wanted && !wanted.includes(kind)) return `not in TEST_LANES=${process.env.TEST_LANES}`;
  if (kind === 'gcloud') {
    const available = gcloudAvailability();
    if (!(available.pubsub && available.firestore)) return available.reason ?? 'official emulators not installed';
  }
  return null;
}

/** A running pipeline. */
export interface Harness {
  apiUrl: string;
  scraperUrl: string;
  config: Config;
  pubsub: PubSub;
  firestore: Firestore;
  stop(): Promise<void>;
}

async function serve(name: string, handler: functionsFramework.HttpFunction): Promise<{ server: Server; url: string }> {
  functionsFramework.http(name, handler);
  const server = getTestServer(name);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function seconds(value: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(value), nanos: Math.round((value % 1) * 1e9) };
}

/** Starts emulators of `kind`, the functions, and the topology. `stop()` undoes all of it. */
export async function startHarness(opts: {
  kind: HarnessKind;
  log: Logger;
  backoff: RetryBackoff;
  maxDeliveryAttempts: number;
  /** Concurrent pushes per subscription (embedded Pub/Sub emulator only). */
  pushConcurrency?: number;
}): Promise<Harness> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const projectId = `pipeline-${randomBytes(4).toString('hex')}`;
    const firestoreEmulator = await startFirestoreEmulator({ kind: opts.kind });
    cleanups.push(() => firestoreEmulator.stop());
    const pubsubEmulator = opts.kind === 'gcloud' ? await startGcloudPubSub({ projectId }) : await startPubSubEmulator({ pushConcurrency: opts.pushConcurrency });
    cleanups.push(() => pubsubEmulator.stop());
    const pubsub = new PubSub({ projectId, apiEndpoint: pubsubEmulator.host, emulatorMode: true });
    const firestore = new Firestore({ projectId, host: firestoreEmulator.host, ssl: false, ignoreUndefinedProperties: true });
    cleanups.push(() => Promise.allSettled([pubsub.close(), firestore.terminate()]));

    const config = parseConfig({ GOOGLE_CLOUD_PROJECT: projectId, ALLOW_PRIVATE_NETWORKS: 'true' });
    const functions = createFunctions({ config, pubsub, firestore, log: opts.log });
    const id = randomBytes(3).toString('hex');
    const endpoints: Record<string, string> = {};
    for (const [name, handler] of Object.entries(functions)) {
      const { server, url } = await serve(`${name}-${id}`, handler);
      cleanups.push(
        () =>
          new Promise((resolve) => {
            server.closeAllConnections();
            server.close(resolve);
          }),
      );
      endpoints[name] = url;
    }

    const retryPolicy = { minimumBackoff: seconds(opts.backoff.minimumBackoffSeconds), maximumBackoff: seconds(opts.backoff.maximumBackoffSeconds) };
    const [topic] = await pubsub.createTopic(config.topic);
    const [deadLetterTopic] = (await pubsub.createTopic(topology.deadLetterTopic)) as [Topic, unknown];
    await topic.createSubscription(topology.pushSubscription, {
      pushConfig: { pushEndpoint: endpoints.scrapeArticle },
      ackDeadlineSeconds: topology.ackDeadlineSeconds,
      retryPolicy,
      deadLetterPolicy: { deadLetterTopic: deadLetterTopic.name, maxDeliveryAttempts: opts.maxDeliveryAttempts },
    });
    await deadLetterTopic.createSubscription(topology.deadLetterSubscription, {
      pushConfig: { pushEndpoint: endpoints.recordDeadLetter },
      ackDeadlineSeconds: topology.recorderTimeoutSeconds + 10,
      retryPolicy,
    });
    // Stop the pushes before the endpoints close.
    cleanups.push(() => Promise.allSettled([topology.pushSubscription, topology.deadLetterSubscription].map((name) => pubsub.subscription(name).delete())));

    return { apiUrl: (endpoints.api ?? '').replace(/\/$/, ''), scraperUrl: endpoints.scrapeArticle ?? '', config, pubsub, firestore, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
