import { existsSync, readFileSync } from 'node:fs';
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

const loaderOptions: protoLoader.Options = {
  // camelCase field names, numbers for int64 (Duration.seconds), enum names as strings, and unset
  // fields left undefined so validation can tell "absent" from "zero".
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
};

/**
 * Loads the `google.pubsub.v1` schema shipped inside @google-cloud/pubsub, so the emulator speaks
 * exactly the schema of the installed client. The package ships it twice: as `.proto` files (whose
 * `google/api/*` imports live in google-gax) and compiled into `build/protos/protos.json` (the same
 * pubsub, google.api and google.protobuf definitions). The JSON loads about 40% faster, which is most
 * of the emulator's first start, so it is preferred; the `.proto` files are the fallback. Cached per
 * process.
 */
export function loadPubSubProtos(): PubSubProtos {
  if (cached) return cached;
  const pubsubRoot = path.dirname(require.resolve('@google-cloud/pubsub'));
  const pubsubProtos = path.resolve(pubsubRoot, '../protos');
  const compiled = path.join(pubsubProtos, 'protos.json');
  let definition: protoLoader.PackageDefinition;
  if (existsSync(compiled)) {
    definition = protoLoader.fromJSON(JSON.parse(readFileSync(compiled, 'utf8')) as Parameters<typeof protoLoader.fromJSON>[0], loaderOptions);
  } else {
    const gaxProtos = path.resolve(path.dirname(require.resolve('google-gax', { paths: [pubsubRoot] })), '../protos');
    definition = protoLoader.loadSync('google/pubsub/v1/pubsub.proto', {
      ...loaderOptions,
      includeDirs: [pubsubProtos, gaxProtos],
    });
  }
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
