/**
 * Starting the emulators as a pair and making clients for them. `EMULATORS=auto|gcloud|embedded`
 * chooses: `gcloud` = the official emulators (Java), `embedded` = the Node-native Pub/Sub emulator
 * and @firestore-emulator/server in this process, `auto` = gcloud where installed.
 */
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { startFirestoreEmulator, type FirestoreEmulator } from './firestore';
import { gcloudAvailability, startGcloudPubSub } from './gcloud';
import { startPubSubEmulator, type PushStats } from './pubsub';
import type { PushSigning } from './pubsub/oidc';

/** What the user asked for. */
export type EmulatorChoice = 'auto' | 'gcloud' | 'embedded';
/** What runs. */
export type EmulatorKind = 'gcloud' | 'embedded';

/** Where the running emulators listen (`127.0.0.1:PORT`). */
export interface EmulatorHosts {
  pubsub: string;
  firestore: string;
}

/** A running pair of emulators. */
export interface RunningEmulators {
  kind: EmulatorKind;
  hosts: EmulatorHosts;
  firestore: FirestoreEmulator;
  /** The embedded Pub/Sub's push counters and flow control per subscription; absent on the official emulator. */
  pushStats?: () => PushStats[];
  /** The embedded Pub/Sub's push signing key (pubsub/oidc.ts); absent on the official emulator, which does not sign pushes. */
  pushSigner?: PushSigning;
  /** Stops both; safe to call more than once. */
  stop(): Promise<void>;
}

/** Resolves `auto` to what this machine can run; throws naming why when `gcloud` can't run. */
export function resolveEmulatorKind(choice: EmulatorChoice): EmulatorKind {
  if (choice === 'embedded') return 'embedded';
  const available = gcloudAvailability();
  const ok = available.pubsub && available.firestore;
  if (choice === 'gcloud' && !ok) {
    throw new Error(`EMULATORS=gcloud, but the official emulators can't run here: ${available.reason}`);
  }
  return ok ? 'gcloud' : 'embedded';
}

/** Starts a Pub/Sub and a Firestore emulator of the chosen kind on free loopback ports. */
export async function startEmulators(
  /** `pushFlow`: model the real service's push flow control on the embedded Pub/Sub (pubsub/flow-control.ts). */
  opts: { choice?: EmulatorChoice; pushConcurrency?: number; pushFlow?: boolean } = {},
): Promise<RunningEmulators> {
  const kind = resolveEmulatorKind(opts.choice ?? 'auto');
  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async (): Promise<void> => {
    const toStop = started.splice(0);
    await Promise.allSettled(toStop.map((emulator) => emulator.stop()));
  };
  try {
    // Started one after the other: on two cores two JVMs booting at once are slower than in turn.
    const pubsub =
      kind === 'gcloud'
        ? await startGcloudPubSub()
        : await startPubSubEmulator({ port: 0, pushConcurrency: opts.pushConcurrency, pushFlow: opts.pushFlow });
    started.push(pubsub);
    const firestore = await startFirestoreEmulator({ kind });
    started.push(firestore);
    const pushStats = 'pushStats' in pubsub ? () => pubsub.pushStats() : undefined;
    const pushSigner = 'signer' in pubsub ? pubsub.signer : undefined;
    return { kind, hosts: { pubsub: pubsub.host, firestore: firestore.host }, firestore, ...(pushStats ? { pushStats } : {}), ...(pushSigner ? { pushSigner } : {}), stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Official clients pointed at the emulators, without touching process.env. */
export interface EmulatorClients {
  pubsub: PubSub;
  firestore: Firestore;
  close(): Promise<void>;
}

/** Creates the official Pub/Sub and Firestore clients for emulators at `hosts`. */
export function clientsFor(hosts: EmulatorHosts, projectId: string): EmulatorClients {
  // apiEndpoint that isn't *.googleapis.com puts the Pub/Sub client in emulator mode (plain text).
  const pubsub = new PubSub({ projectId, apiEndpoint: hosts.pubsub, emulatorMode: true });
  // ssl: false puts the Firestore client in emulator mode (plain text, "Bearer owner").
  const firestore = new Firestore({ projectId, host: hosts.firestore, ssl: false });
  return {
    pubsub,
    firestore,
    close: async () => {
      await Promise.allSettled([pubsub.close(), firestore.terminate()]);
    },
  };
}
