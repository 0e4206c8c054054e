/**
 * A bundle-time edit of @grpc/proto-loader: the descriptors it makes for every message, enum and
 * .proto file of a client's protos (`type`, `fileDescriptorProtos`: used by gRPC reflection, never
 * by a client's calls) are made on first read instead of when the client loads its protos. Measured
 * in a deployed function's first request: ~40% of the CPU of building the Firestore client
 * (BENCHMARKS.md, Cold start). Every value is the one the package would have made, made from the
 * same objects; a proto-loader whose source does not read as expected fails the build instead of
 * shipping unedited.
 */
import { readFileSync } from 'node:fs';
import type { Plugin } from 'esbuild';

/** The three spots edited, each as the package (0.8.x) writes it. */
const EDITS: { name: string; from: string; to: string }[] = [
  {
    name: 'file descriptors of the package',
    from: `    const descriptorList = root.toDescriptor('proto3').file;
    const bufferList = descriptorList.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()));`,
    to: `    let fileDescriptorBuffers;
    const bufferList = () => fileDescriptorBuffers ??= root.toDescriptor('proto3').file.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()));`,
  },
  {
    name: 'message definition',
    from: `    const messageDescriptor = message.toDescriptor('proto3');
    return {
        format: 'Protocol Buffer 3 DescriptorProto',
        type: messageDescriptor.$type.toObject(messageDescriptor, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,
        serialize: createSerializer(message),
        deserialize: createDeserializer(message, options)
    };`,
    to: `    return lazyDescriptors({
        format: 'Protocol Buffer 3 DescriptorProto',
        serialize: createSerializer(message),
        deserialize: createDeserializer(message, options)
    }, message, fileDescriptors);`,
  },
  {
    name: 'enum definition',
    from: `    const enumDescriptor = enumType.toDescriptor('proto3');
    return {
        format: 'Protocol Buffer 3 EnumDescriptorProto',
        type: enumDescriptor.$type.toObject(enumDescriptor, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,
    };`,
    to: `    return lazyDescriptors({
        format: 'Protocol Buffer 3 EnumDescriptorProto',
    }, enumType, fileDescriptors);`,
  },
];

/** Added once: `type` and `fileDescriptorProtos` as enumerable getters that compute once, in the package's key order. */
const LAZY_DESCRIPTORS = `
function lazyDescriptors(definition, reflected, fileDescriptors) {
    let type;
    const lazy = { format: definition.format };
    Object.defineProperty(lazy, 'type', { enumerable: true, configurable: true, get() { if (type === undefined) { const descriptor = reflected.toDescriptor('proto3'); type = descriptor.$type.toObject(descriptor, descriptorOptions); } return type; } });
    Object.defineProperty(lazy, 'fileDescriptorProtos', { enumerable: true, configurable: true, get: fileDescriptors });
    if ('serialize' in definition) {
        lazy.serialize = definition.serialize;
        lazy.deserialize = definition.deserialize;
    }
    return lazy;
}
`;

/** proto-loader's build/src/index.js with the edits; throws naming the edit that did not apply. */
export function lazyProtoDescriptors(source: string): string {
  let edited = source;
  for (const edit of EDITS) {
    const at = edited.indexOf(edit.from);
    if (at < 0 || edited.indexOf(edit.from, at + 1) >= 0) throw new Error(`@grpc/proto-loader: its ${edit.name} no longer reads as build/lazyProtoDescriptors.ts expects; check the edit against the new version`);
    edited = edited.replace(edit.from, edit.to);
  }
  const anchor = 'function createMessageDefinition(';
  return edited.replace(anchor, `${LAZY_DESCRIPTORS.trimStart()}${anchor}`);
}

/** The esbuild plugin applying {@link lazyProtoDescriptors} to every copy of proto-loader's entry module. */
export function lazyProtoDescriptorsPlugin(): Plugin {
  return {
    name: 'lazy-proto-descriptors',
    setup(pluginBuild) {
      pluginBuild.onLoad({ filter: /[\\/]node_modules[\\/]@grpc[\\/]proto-loader[\\/]build[\\/]src[\\/]index\.js$/ }, (args) => ({
        contents: lazyProtoDescriptors(readFileSync(args.path, 'utf8')),
        loader: 'js',
      }));
    },
  };
}
