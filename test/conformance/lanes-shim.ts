// Temporary stand-in for test/helpers/lanes.ts until it lands on main (same shape, Pub/Sub only).
import { gcloudAvailability, startGcloudPubSub } from '../../emulator/gcloud';
import { startPubSubEmulator } from '../../emulator/pubsub';

export interface Lane {
  kind: 'embedded' | 'gcloud';
  projectId: string;
  emulators(): { pubsub: { host: string } };
}

export function forEachLane(title: string, body: (lane: Lane) => void): void {
  for (const kind of ['embedded', 'gcloud'] as const) {
    if (kind === 'gcloud' && !gcloudAvailability().pubsub) {
      describe(`${title} [gcloud]`, () => it.skip(`skipped: ${gcloudAvailability().reason}`));
      continue;
    }
    describe(`${title} [${kind}]`, function () {
      let running: { host: string; stop(): Promise<void> } | undefined;
      const lane: Lane = {
        kind,
        projectId: `conformance-${Date.now().toString(36)}`,
        emulators: () => ({ pubsub: { host: running!.host } }),
      };
      before(async function () {
        this.timeout(60_000);
        running = kind === 'embedded' ? await startPubSubEmulator() : await startGcloudPubSub();
      });
      after(async () => running?.stop());
      body(lane);
    });
  }
}
