/**
 * The Firestore emulator: the official one (gcloud) where installed, otherwise the npm package
 * @firestore-emulator/server embedded in this process. The embedded one has measured gaps
 * (see emulator/README.md); the project's code must be correct on the real service regardless.
 */
import { createRequire } from 'node:module';
import { FirestoreServer, FirestoreStateCollection, FirestoreStateDocument } from '@firestore-emulator/server';
import { startGcloudFirestore } from '../gcloud';

/** Which Firestore emulator runs. */
export type FirestoreEmulatorKind = 'embedded' | 'gcloud';

/** A running Firestore emulator. */
export interface FirestoreEmulator {
  kind: FirestoreEmulatorKind;
  /** `127.0.0.1:PORT`, the value for `FIRESTORE_EMULATOR_HOST`. */
  host: string;
  port: number;
  /** Deletes every document of `projectId` (the embedded emulator clears all projects). */
  reset(projectId: string): Promise<void>;
  /**
   * A storage outage, for reliability tests: unavailable until {@link resume}, every document kept.
   * The embedded emulator closes its port and cuts open connections (calls fail, reconnects are
   * refused); the official one is frozen (SIGSTOP: connections stay open, nothing answers), since
   * restarting it would lose its in-memory data.
   */
  pause(): Promise<void>;
  /** Serves again, on the same port, with the same documents. */
  resume(): Promise<void>;
  /**
   * Calls `listener` with the path of every document created or changed (embedded only: for
   * benchmarks that count writes per document). Returns the function that stops it.
   */
  onDocumentWrite?(listener: (path: string) => void): () => void;
  stop(): Promise<void>;
}

/** What {@link FirestoreEmulator.onDocumentWrite} needs of the package's state. */
interface StateEvents {
  emitter: { on(event: string, listener: (event: { document: { getPath(): string } }) => void): void; off(event: string, listener: (event: { document: { getPath(): string } }) => void): void };
}

interface GrpcServer {
  bindAsync(address: string, credentials: unknown, callback: (error: Error | null, port: number) => void): void;
  drain(address: string, graceTimeMs: number): void;
  unbind(address: string): void;
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}

/** Internals of the package's collection that {@link addDocumentsInPlace} touches. */
interface CollectionInternals {
  emitter: ConstructorParameters<typeof FirestoreStateCollection>[0];
  database: FirestoreStateCollection['database'];
  documents: Record<string, FirestoreStateDocument>;
}

let documentsAddedInPlace = false;

/**
 * The package's `getDocument`, reads included, adds a placeholder for a document it does not hold by
 * copying the collection's whole map of documents (immer's produce), so each read of an absent
 * document and each first write cost time in proportion to the collection. Measured (client and
 * emulator in one process): a getAll of 1,000 absent documents took 0.5 s with 1,000 documents
 * stored, 8.2 s with 10,000 and 18.9 s with 20,000; a new document's set 4 → 12.6 → 21.8 ms. This is
 * the same method adding the placeholder to the map in place: the map is changed nowhere else, its
 * documents are mutable objects already, and with auto-freeze off nothing holds on to an old copy.
 */
function addDocumentsInPlace(): void {
  if (documentsAddedInPlace) return;
  documentsAddedInPlace = true;
  FirestoreStateCollection.prototype.getDocument = function getDocument(this: FirestoreStateCollection, documentName: string): FirestoreStateDocument {
    const collection = this as unknown as CollectionInternals;
    let document = Object.hasOwn(collection.documents, documentName) ? collection.documents[documentName] : undefined;
    if (document === undefined) {
      document = new FirestoreStateDocument(collection.emitter, collection.database, this, documentName, {}, {});
      collection.documents[documentName] = document;
    }
    return document;
  };
}

/**
 * Starts the embedded emulator bound to 127.0.0.1. Its own `start(port)` binds 0.0.0.0, which
 * would expose the database to the network; so we bind its gRPC server ourselves, with
 * credentials made by the grpc-js copy the package itself loads (a different copy's
 * ServerCredentials is rejected by its Server).
 */
async function startEmbedded(port: number): Promise<FirestoreEmulator> {
  const packageRequire = createRequire(require.resolve('@firestore-emulator/server'));
  // The package keeps its state in immer drafts, and immer's auto-freeze re-freezes a collection's
  // whole map of documents whenever one is added: a cost that grows with the collection (measured,
  // client and emulator in one process: get+set of a new document ≈3.8 ms CPU with it, ≈3.2 ms
  // without, once the collection holds 2,000–3,000 documents; no difference below 1,000). The
  // package changes its state only through produce(), so freezing guards nothing; no result
  // changes. Only this package uses immer here.
  (packageRequire('immer') as { setAutoFreeze(freeze: boolean): void }).setAutoFreeze(false);
  addDocumentsInPlace();
  const firestore = new FirestoreServer();
  const server = (firestore as unknown as { server: GrpcServer }).server;
  const grpc = packageRequire('@grpc/grpc-js') as { ServerCredentials: { createInsecure(): unknown } };
  const bind = (address: string): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, actualPort) => (error ? reject(error) : resolve(actualPort)));
    });
  const boundPort = await bind(`127.0.0.1:${port}`);
  const address = `127.0.0.1:${boundPort}`;
  let stopped = false;
  let paused = false;
  return {
    kind: 'embedded',
    host: address,
    port: boundPort,
    reset: async () => {
      firestore.state.clear();
    },
    onDocumentWrite: (listener) => {
      const { emitter } = firestore.state as unknown as StateEvents;
      const written = (event: { document: { getPath(): string } }): void => listener(event.document.getPath());
      emitter.on('create-document', written);
      emitter.on('update-document', written);
      return () => {
        emitter.off('create-document', written);
        emitter.off('update-document', written);
      };
    },
    pause: async () => {
      if (paused || stopped) return;
      paused = true;
      // Cut the open connections at once (grace 0), then close the port; the state stays in memory.
      server.drain(address, 0);
      server.unbind(address);
    },
    resume: async () => {
      if (!paused || stopped) return;
      // The port was ours a moment ago; should another process take it meanwhile, bind fails loudly.
      await bind(address);
      paused = false;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // Open client streams (listeners) would keep a graceful shutdown waiting forever.
      server.forceShutdown();
    },
  };
}

async function startOfficial(port: number): Promise<FirestoreEmulator> {
  const emulator = await startGcloudFirestore({ port: port || undefined });
  return {
    kind: 'gcloud',
    host: emulator.host,
    port: emulator.port,
    pause: emulator.pause,
    resume: emulator.resume,
    reset: async (projectId) => {
      // The official emulator's documented reset endpoint.
      const response = await fetch(
        `http://${emulator.host}/emulator/v1/projects/${encodeURIComponent(projectId)}/databases/(default)/documents`,
        { method: 'DELETE' },
      );
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`Firestore emulator reset failed with HTTP ${response.status}`);
    },
    stop: emulator.stop,
  };
}

/** Starts a Firestore emulator on loopback (`port` 0 or absent = a free port). */
export function startFirestoreEmulator(
  opts: { kind?: FirestoreEmulatorKind; port?: number } = {},
): Promise<FirestoreEmulator> {
  const port = opts.port ?? 0;
  return opts.kind === 'gcloud' ? startOfficial(port) : startEmbedded(port);
}
