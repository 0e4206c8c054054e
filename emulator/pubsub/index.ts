import * as grpc from '@grpc/grpc-js';
import { Broker, type PushStats } from './broker';
import { defaultPushFlow, type PushFlowOptions } from './flow-control';
import { startPushSigner, type PushSigning } from './oidc';
import { loadPubSubProtos } from './protos';
import { SchemaRegistry } from './schemas';
import { publisherHandlers, schemaHandlers, subscriberHandlers, withUnimplemented } from './service';

/** Options of {@link startPubSubEmulator}. */
export interface PubSubEmulatorOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; loopback by default so nothing outside this machine can reach it. */
  host?: string;
  /** Push requests in flight per subscription (default 16). */
  pushConcurrency?: number;
  /**
   * Model the real service's push flow control (push window with slow start, push backoff after
   * nacks; flow-control.ts): `true` for the documented defaults, or settings. Off by default.
   */
  pushFlow?: boolean | PushFlowOptions;
}

/** A running Node-native Pub/Sub emulator. */
export interface PubSubEmulator {
  /** `HOST:PORT`, the value for `PUBSUB_EMULATOR_HOST` or the client's `apiEndpoint`. */
  host: string;
  port: number;
  /** Forgets every topic, subscription and message (open streams end with NOT_FOUND). */
  reset(): void;
  /** Pushes, acks and nacks of every push subscription so far, with its push window and backoff now. */
  pushStats(): PushStats[];
  /** The key that signs pushes of subscriptions with an oidcToken, and its JWKS URL (oidc.ts). */
  signer: PushSigning;
  /** Cancels pending pushes and pulls, clears every timer and closes the server. */
  stop(): Promise<void>;
}

export type { PushStats };

export const defaultPushConcurrency = 16;

/**
 * Starts an in-memory `google.pubsub.v1` gRPC server that the official @google-cloud/pubsub client
 * talks to unchanged (`new PubSub({ apiEndpoint: emulator.host })` or `PUBSUB_EMULATOR_HOST`), with
 * push delivery, retry backoff and dead-lettering. See emulator/README.md for what differs from the
 * real service.
 */
export async function startPubSubEmulator(options: PubSubEmulatorOptions = {}): Promise<PubSubEmulator> {
  const bindHost = options.host ?? '127.0.0.1';
  const pushConcurrency = options.pushConcurrency ?? defaultPushConcurrency;
  if (!Number.isInteger(pushConcurrency) || pushConcurrency < 1) {
    throw new RangeError(`pushConcurrency must be a positive integer, got ${pushConcurrency}.`);
  }
  const protos = loadPubSubProtos();
  const schemas = new SchemaRegistry();
  const pushFlow = options.pushFlow === true ? defaultPushFlow : options.pushFlow || undefined;
  const signer = await startPushSigner(bindHost);
  const broker = new Broker({ pushConcurrency, schemas, pushFlow, signer });
  // Publish requests may carry up to 10 MB of messages.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 20 * 1024 * 1024 });
  server.addService(
    protos.publisher,
    withUnimplemented('google.pubsub.v1.Publisher', protos.publisher, publisherHandlers(broker)),
  );
  server.addService(
    protos.subscriber,
    withUnimplemented('google.pubsub.v1.Subscriber', protos.subscriber, subscriberHandlers(broker)),
  );
  server.addService(
    protos.schemaService,
    withUnimplemented('google.pubsub.v1.SchemaService', protos.schemaService, schemaHandlers(schemas)),
  );

  const address = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${address}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  }).catch(async (error: Error) => {
    await broker.close();
    await signer.close();
    server.forceShutdown();
    throw new Error(
      `The Pub/Sub emulator could not listen on ${address}:${options.port ?? 0} (${error.message}). ` +
        'Choose another port, or 0 for a free one.',
    );
  });

  // Off the start's critical path: on 2 busy cores the key's thread would compete with loading the protos.
  signer.prepareKey();

  let stopped: Promise<void> | null = null;
  return {
    host: `${address}:${port}`,
    port,
    pushStats: () => broker.pushStats(),
    signer: { jwksUrl: signer.jwksUrl, sign: signer.sign },
    reset: () => {
      broker.reset();
      schemas.clear();
    },
    stop: () => {
      stopped ??= (async () => {
        await broker.close();
        // forceShutdown: clients keep their HTTP/2 sessions open, so a graceful shutdown could wait forever.
        server.forceShutdown();
        await signer.close();
      })();
      return stopped;
    },
  };
}
