/**
 * Test lanes: the same suite runs against each emulator kind this machine has — always the
 * embedded (Node-native) emulators, and the official gcloud emulators where installed.
 * `TEST_LANES=embedded` (or `gcloud`) restricts the run to one lane.
 *
 * Emulators are started once per lane for the whole run (the official ones take seconds to boot)
 * and stopped by a root-level after hook; each `forEachLane` suite gets its own project id, so
 * suites never see each other's topics or documents.
 */
import { randomBytes } from 'node:crypto';
import { clientsFor, startEmulators, type EmulatorClients, type EmulatorKind, type RunningEmulators } from '../../emulator';
import { gcloudAvailability } from '../../emulator/gcloud';

// The client libraries otherwise probe for a GCE metadata server and warn when there is none.
process.env.METADATA_SERVER_DETECTION ??= 'none';

/** One lane as a suite sees it. */
export interface Lane {
  kind: EmulatorKind;
  /** A project id unique to this suite and run. */
  projectId: string;
  /** The running emulators (available from `before` hooks on). */
  emulators(): RunningEmulators;
  /** Official clients for this suite's project (created on first use, closed after the suite). */
  clients(): EmulatorClients;
}

const ALL_KINDS: EmulatorKind[] = ['embedded', 'gcloud'];

function requestedKinds(): EmulatorKind[] {
  const raw = process.env.TEST_LANES;
  if (!raw) return ALL_KINDS;
  const kinds = raw.split(',').map((kind) => kind.trim());
  for (const kind of kinds) {
    if (!ALL_KINDS.includes(kind as EmulatorKind)) {
      throw new Error(`TEST_LANES: unknown lane "${kind}" (allowed: ${ALL_KINDS.join(', ')})`);
    }
  }
  return kinds as EmulatorKind[];
}

/** Why a lane does not run here, or null when it does. */
export function laneSkipReason(kind: EmulatorKind): string | null {
  if (!requestedKinds().includes(kind)) return `not in TEST_LANES=${process.env.TEST_LANES}`;
  if (kind === 'gcloud') {
    const available = gcloudAvailability();
    if (!(available.pubsub && available.firestore)) return available.reason ?? 'official emulators not installed';
  }
  return null;
}

const running = new Map<EmulatorKind, Promise<RunningEmulators>>();
const report = new Map<EmulatorKind, { suites: number; skipped?: string }>();

function emulatorsFor(kind: EmulatorKind): Promise<RunningEmulators> {
  let emulators = running.get(kind);
  if (!emulators) {
    emulators = startEmulators({ choice: kind });
    running.set(kind, emulators);
  }
  return emulators;
}

// Root-level hook (this module is first imported while mocha loads spec files at the top level).
after(async function stopLaneEmulators() {
  this.timeout(60_000);
  const stopping = [...running.values()].map(async (emulators) => (await emulators).stop());
  running.clear();
  await Promise.allSettled(stopping);
  const lines = ALL_KINDS.map((kind) => {
    const entry = report.get(kind);
    if (!entry) return `  ${kind}: not used`;
    return entry.skipped ? `  ${kind}: skipped (${entry.skipped})` : `  ${kind}: ran ${entry.suites} suite(s)`;
  });
  console.log(`\nEmulator lanes:\n${lines.join('\n')}`);
});

/** Declares `body` once per emulator lane, as `describe('<title> [<lane>]')`. */
export function forEachLane(title: string, body: (lane: Lane) => void): void {
  for (const kind of ALL_KINDS) {
    const skipped = laneSkipReason(kind);
    const entry = report.get(kind) ?? { suites: 0 };
    report.set(kind, entry);
    if (skipped) {
      entry.skipped = skipped;
      describe(`${title} [${kind}]`, () => {
        it(`skipped: ${skipped}`);
      });
      continue;
    }
    entry.suites += 1;
    describe(`${title} [${kind}]`, function () {
      const projectId = `test-${kind}-${randomBytes(4).toString('hex')}`;
      let emulators: RunningEmulators | undefined;
      let clients: EmulatorClients | undefined;
      before(async function () {
        this.timeout(120_000);
        emulators = await emulatorsFor(kind);
      });
      after(async () => {
        await clients?.close();
        clients = undefined;
      });
      body({
        kind,
        projectId,
        emulators: () => {
          if (!emulators) throw new Error('lane.emulators() is available from before() hooks on');
          return emulators;
        },
        clients: () => {
          if (!emulators) throw new Error('lane.clients() is available from before() hooks on');
          clients ??= clientsFor(emulators.hosts, projectId);
          return clients;
        },
      });
    });
  }
}
