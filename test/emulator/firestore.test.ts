import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Firestore } from '@google-cloud/firestore';
import { startFirestoreEmulator, type FirestoreEmulator } from '../../emulator/firestore';

process.env.METADATA_SERVER_DETECTION ??= 'none';

/** A non-loopback address of this machine, if it has one (containers usually do). */
function externalAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return undefined;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe('embedded Firestore emulator', () => {
  let emulator: FirestoreEmulator;
  let db: Firestore;

  before(async () => {
    emulator = await startFirestoreEmulator({ kind: 'embedded' });
    db = new Firestore({ projectId: 'embedded-test', host: emulator.host, ssl: false });
  });

  after(async () => {
    await db.terminate();
    await emulator.stop();
  });

  it('serves the official client on a loopback address', async () => {
    assert.match(emulator.host, /^127\.0\.0\.1:\d+$/);
    await db.doc('articles/a').set({ title: 'Hello' });
    assert.deepEqual((await db.doc('articles/a').get()).data(), { title: 'Hello' });
  });

  it('is not reachable from other interfaces (bound to 127.0.0.1, not 0.0.0.0)', async function () {
    const address = externalAddress();
    if (!address) this.skip();
    assert.equal(await canConnect(address!, emulator.port), false);
    assert.equal(await canConnect('127.0.0.1', emulator.port), true);
  });

  it('pause() refuses connections and holds calls without losing a document; resume() serves them on the same port', async function () {
    this.timeout(20_000);
    await db.doc('articles/kept').set({ title: 'Still here' });
    await emulator.pause();
    let settled = false;
    const reading = db.doc('articles/kept').get().finally(() => (settled = true));
    try {
      assert.equal(await canConnect('127.0.0.1', emulator.port), false);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(settled, false, 'a read completed while the emulator was paused');
    } finally {
      await emulator.resume();
    }
    assert.equal(await canConnect('127.0.0.1', emulator.port), true);
    // The client retries UNAVAILABLE on its own; the read waits out the outage and then succeeds.
    assert.deepEqual((await reading).data(), { title: 'Still here' });
  });

  it('reads absent documents as absent, without making them appear in queries or in later reads', async () => {
    // Absent documents get placeholders inside the emulator (added in place, see emulator/firestore).
    const collection = db.collection('placeholders');
    await collection.doc('kept').set({ n: 1 });
    const absent = await db.getAll(...Array.from({ length: 50 }, (_, index) => collection.doc(`absent-${index}`)));
    assert.deepEqual(
      absent.map((snapshot) => snapshot.exists),
      absent.map(() => false),
    );
    await collection.doc('absent-7').set({ n: 7 });
    const listed = await collection.get();
    assert.deepEqual(listed.docs.map((snapshot) => snapshot.id).sort(), ['absent-7', 'kept']);
    assert.equal((await collection.doc('absent-8').get()).exists, false);
    assert.equal((await collection.doc('absent-7').get()).get('n'), 7);
    assert.equal((await collection.count().get()).data().count, 2);
  });

  it('tells a listener the path of every document created or changed, and stops when told', async () => {
    const paths: string[] = [];
    const stop = emulator.onDocumentWrite?.((path) => paths.push(path));
    assert.ok(stop, 'the embedded emulator reports writes');
    await db.doc('watched/one').set({ n: 1 });
    await db.doc('watched/one').update({ n: 2 });
    await db.batch().create(db.doc('watched/two'), { n: 1 }).create(db.doc('watched/three'), { n: 1 }).commit();
    await db.doc('watched/one').get();
    stop();
    await db.doc('watched/one').set({ n: 3 });
    assert.deepEqual(
      paths.map((path) => path.split('/documents/')[1]),
      ['watched/one', 'watched/one', 'watched/two', 'watched/three'],
    );
  });

  it('reset() removes every document', async () => {
    await db.doc('articles/b').set({ title: 'Gone soon' });
    await emulator.reset('embedded-test');
    assert.equal((await db.doc('articles/b').get()).exists, false);
  });
});
