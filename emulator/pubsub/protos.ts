import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The gRPC service definitions of `google.pubsub.v1`, loaded once per process. */
export interface PubSubProtos {
  publisher: grpc.ServiceDefinition;
  subscriber: grpc.ServiceDefinition;
  schemaService: grpc.ServiceDefinition;
}

let cached: PubSubProtos | undefined;

/**
 * Loads the `.proto` files shipped inside @google-cloud/pubsub, so the emulator speaks exactly the
 * schema of the client version installed. Their `google/api/*` imports ship in google-gax, which the
 * client depends on. Parsing costs ~150 ms, so it happens once per process and is cached.
 */
export function loadPubSubProtos(): PubSubProtos {
  if (cached) return cached;
  const pubsubRoot = path.dirname(require.resolve('@google-cloud/pubsub'));
  const pubsubProtos = path.resolve(pubsubRoot, '../protos');
  const gaxProtos = path.resolve(path.dirname(require.resolve('google-gax', { paths: [pubsubRoot] })), '../protos');
  const definition = protoLoader.loadSync('google/pubsub/v1/pubsub.proto', {
    includeDirs: [pubsubProtos, gaxProtos],
    // camelCase field names, numbers for int64 (Duration.seconds), enum names as strings, and
    // unset fields left undefined so validation can tell "absent" from "zero".
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const v1 = (grpc.loadPackageDefinition(definition) as unknown as {
    google: { pubsub: { v1: Record<string, grpc.ServiceClientConstructor> } };
  }).google.pubsub.v1;
  cached = {
    publisher: v1.Publisher!.service,
    subscriber: v1.Subscriber!.service,
    schemaService: v1.SchemaService!.service,
  };
  return cached;
}
