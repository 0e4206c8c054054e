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

/** The well-known types google/pubsub/v1/*.proto import; everything else in protos.json is left out. */
const wellKnownTypes = ['Duration', 'Empty', 'FieldMask', 'Timestamp', 'Struct', 'Value', 'NullValue', 'ListValue'];

type Namespace = Parameters<typeof protoLoader.fromJSON>[0] & {
  nested?: Record<string, Namespace>;
};

/**
 * Keeps `google.pubsub` and the well-known types it uses. The google.api annotations and the
 * descriptor types only matter as options; building service definitions for them doubles the load
 * time, which is most of the emulator's first start.
 */
function pubsubOnly(json: Namespace): Namespace {
  const google = json.nested?.google?.nested ?? {};
  const protobuf = google.protobuf?.nested ?? {};
  return {
    nested: {
      google: {
        nested: {
          pubsub: google.pubsub!,
          protobuf: {
            nested: Object.fromEntries(wellKnownTypes.filter((name) => protobuf[name]).map((name) => [name, protobuf[name]!])),
          },
        },
      },
    },
  };
}

/**
 * Loads the `google.pubsub.v1` schema shipped inside @google-cloud/pubsub, so the emulator speaks
 * exactly the schema of the installed client. The package ships it twice: as `.proto` files (whose
 * `google/api/*` imports live in google-gax) and compiled into `build/protos/protos.json`. Loading
 * the JSON, reduced to the pubsub package and its well-known types, takes about a third of the time
 * of parsing the `.proto` files (~60 vs ~170 ms here), which is most of the emulator's first start;
 * the complete JSON and then the `.proto` files are the fallbacks. Cached per process.
 */
export function loadPubSubProtos(): PubSubProtos {
  if (cached) return cached;
  const pubsubRoot = path.dirname(require.resolve('@google-cloud/pubsub'));
  const pubsubProtos = path.resolve(pubsubRoot, '../protos');
  const compiled = path.join(pubsubProtos, 'protos.json');
  let definition: protoLoader.PackageDefinition;
  if (existsSync(compiled)) {
    const json = JSON.parse(readFileSync(compiled, 'utf8')) as Namespace;
    try {
      definition = protoLoader.fromJSON(pubsubOnly(json), loaderOptions);
    } catch {
      // A later client version may reference more types: load everything it ships.
      definition = protoLoader.fromJSON(json, loaderOptions);
    }
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
