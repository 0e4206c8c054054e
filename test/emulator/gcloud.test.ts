import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gcloudAvailability, startGcloudPubSub } from '../../emulator/gcloud';

function javaProcessesListening(port: number): number {
  // Counts processes whose command line names the port: gcloud passes it down to Java.
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`127.0.0.1:${port}`) || line.includes(`--port=${port}`)).length;
}

describe('official gcloud emulators', () => {
  it('explains why they are unavailable when gcloud is not on PATH', () => {
    const availability = gcloudAvailability('/nonexistent-dir');
    assert.deepEqual(availability, { pubsub: false, firestore: false, reason: 'gcloud is not on PATH' });
  });

  it('start on loopback, pause and resume, and leave no process behind when stopped (even paused)', async function () {
    const availability = gcloudAvailability();
    if (!availability.pubsub) {
      console.log(`    (skipped: ${availability.reason})`);
      this.skip();
    }
    this.timeout(90_000);
    const emulator = await startGcloudPubSub();
    assert.match(emulator.host, /^127\.0\.0\.1:\d+$/);
    const response = await fetch(`http://${emulator.host}/`);
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    assert.ok(javaProcessesListening(emulator.port) > 0, 'the emulator process should be running');
    // pause() freezes it (an outage that keeps its data): nothing answers until resume().
    await emulator.pause();
    await assert.rejects(fetch(`http://${emulator.host}/`, { signal: AbortSignal.timeout(700) }), 'a paused emulator must not answer');
    await emulator.resume();
    const again = await fetch(`http://${emulator.host}/`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(again.status, 200);
    await again.arrayBuffer();
    // Stopped while frozen, it still goes away.
    await emulator.pause();
    await emulator.stop();
    assert.equal(javaProcessesListening(emulator.port), 0, 'no emulator process may outlive stop()');
  });
});
