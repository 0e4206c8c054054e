import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import * as path from 'node:path';
import { lazyProtoDescriptors } from '../../build/lazyProtoDescriptors';

const ROOT = path.resolve(__dirname, '../..');
const LOADER = path.join(ROOT, 'node_modules', '@grpc', 'proto-loader', 'build', 'src', 'index.js');

interface ProtoLoader {
  fromJSON(json: unknown, options?: object): Record<string, Record<string, unknown>>;
}

/** proto-loader as the package ships it. */
const packageLoader = (): ProtoLoader => createRequire(LOADER)(LOADER) as ProtoLoader;

/** proto-loader as the bundles carry it: its own file, edited, loaded from its own path (so its requires resolve as usual). */
function editedLoader(): ProtoLoader {
  const module = new Module(LOADER) as Module & { _compile(source: string, filename: string): void; paths: string[] };
  module.filename = LOADER;
  module.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(LOADER));
  module._compile(lazyProtoDescriptors(readFileSync(LOADER, 'utf8')), LOADER);
  return module.exports as ProtoLoader;
}

const OPTIONS = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };
const firestoreProtos = (): unknown => JSON.parse(readFileSync(path.join(ROOT, 'node_modules', '@google-cloud', 'firestore', 'build', 'protos', 'v1.json'), 'utf8'));

describe('lazy proto descriptors (build/lazyProtoDescriptors.ts): the bundles\' edit of @grpc/proto-loader', () => {
  it('gives every message, enum and method of the Firestore protos the same definition as the package, keys in order', () => {
    const original = packageLoader().fromJSON(firestoreProtos(), OPTIONS);
    const edited = editedLoader().fromJSON(firestoreProtos(), OPTIONS);
    assert.deepEqual(Object.keys(edited), Object.keys(original));
    let compared = 0;
    for (const [name, definition] of Object.entries(original)) {
      const lazy = edited[name]!;
      assert.deepEqual(Object.keys(lazy), Object.keys(definition), name);
      if ('format' in definition) {
        // A message or enum: its descriptor, and the encoded .proto files, read as the package made them.
        assert.deepEqual(lazy.type, definition.type, `${name}.type`);
        assert.deepEqual(lazy.fileDescriptorProtos, definition.fileDescriptorProtos, `${name}.fileDescriptorProtos`);
        compared += 1;
        continue;
      }
      for (const [method, call] of Object.entries(definition) as [string, Record<string, { type: unknown; fileDescriptorProtos: unknown }>][]) {
        const lazyCall = lazy[method] as typeof call;
        assert.equal((lazyCall as unknown as { path: string }).path, (call as unknown as { path: string }).path);
        assert.deepEqual(lazyCall.requestType!.type, call.requestType!.type, `${name}.${method} request`);
        assert.deepEqual(lazyCall.responseType!.type, call.responseType!.type, `${name}.${method} response`);
      }
    }
    assert.ok(compared > 50, `compared ${compared} messages and enums`);
  });

  it('serializes and deserializes a Firestore request as the package does', () => {
    const original = packageLoader().fromJSON(firestoreProtos(), OPTIONS);
    const edited = editedLoader().fromJSON(firestoreProtos(), OPTIONS);
    type Call = { requestSerialize(value: unknown): Buffer; requestDeserialize(bytes: Buffer): unknown };
    const commit = (definitions: typeof original): Call => (definitions['google.firestore.v1.Firestore'] as Record<string, Call>).Commit!;
    const request = { database: 'projects/p/databases/(default)', writes: [{ update: { name: 'projects/p/databases/(default)/documents/a/b', fields: { title: { stringValue: 'Ünïcode' } } } }] };
    const bytes = commit(edited).requestSerialize(request);
    assert.deepEqual(bytes, commit(original).requestSerialize(request));
    assert.deepEqual(commit(edited).requestDeserialize(bytes), commit(original).requestDeserialize(bytes));
  });

  it('fails the build, naming the edit, when proto-loader no longer reads as expected', () => {
    const source = readFileSync(LOADER, 'utf8');
    assert.throws(() => lazyProtoDescriptors(source.replace("const enumDescriptor = enumType.toDescriptor('proto3');", 'const enumDescriptor = enumType.toDescriptor();')), /its enum definition no longer reads as/);
    assert.throws(() => lazyProtoDescriptors(''), /@grpc\/proto-loader: its file descriptors of the package/);
  });
});
