// Stand-in for test/helpers/lanes.ts (coordinator) until it lands on main: same `forEachLane` shape,
// Pub/Sub only. Switch the import in pubsub.test.ts to '../helpers/lanes' and delete this file then.
import { gcloudAvailability, startGcloudPubSub } from '../../emulator/gcloud';
import { startPubSubEmulator } from '../../emulator/pubsub';

type LaneKind = 'embedded' | 'gcloud';

export interface Lane {
  kind: LaneKind;
  projectId: string;
  emulators(): { pubsub: { host: string } };
}

/** `TEST_LANES=embedded` (or `gcloud`, or both comma-separated) restricts the lanes, as README says. */
function parseLanes(value: string | undefined): LaneKind[] {
  if (!value) return ['embedded', 'gcloud'];
  const kinds = value.split(',').map((kind) => kind.trim());
  for (const kind of kinds) {
    if (kind !== 'embedded' && kind !== 'gcloud') {
      throw new Error(`TEST_LANES: unknown lane "${kind}" (allowed: embedded, gcloud)`);
    }
  }
  return kinds as LaneKind[];
}

function skipReason(kind: LaneKind, requested: LaneKind[]): string | null {
  if (!requested.includes(kind)) return `not in TEST_LANES=${requested.join(',')}`;
  if (kind === 'gcloud' && !gcloudAvailability().pubsub) return gcloudAvailability().reason ?? 'not installed';
  return null;
}

export function forEachLane(title: string, body: (lane: Lane) => void): void {
  const requested = parseLanes(process.env.TEST_LANES);
  for (const kind of ['embedded', 'gcloud'] as const) {
    const skipped = skipReason(kind, requested);
    if (skipped) {
      describe(`${title} [${kind}]`, () => it(`skipped: ${skipped}`));
      continue;
    }
    describe(`${title} [${kind}]`, function () {
      let running: { host: string; stop(): Promise<void> } | undefined;
      const lane: Lane = {
        kind,
        projectId: `conformance-${kind}-${Date.now().toString(36)}`,
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
