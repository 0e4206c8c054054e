/**
 * The official Google Cloud emulators (Pub/Sub and Firestore), started through the gcloud CLI
 * wherever the Cloud SDK, its emulator components and Java are installed. They are optional: the
 * project runs everywhere on the embedded emulators, and also on these where they exist.
 */
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { freeLoopbackPort, waitForHttp } from './ports';
import { killGroupOnExit, signalGroup } from './process-group';

/** Which official emulators this machine can run, and why not when it can't. */
export interface GcloudAvailability {
  pubsub: boolean;
  firestore: boolean;
  /** Why an emulator is missing, for the test report ("gcloud not on PATH", …). */
  reason?: string;
}

/** A running official emulator. */
export interface GcloudEmulator {
  /** `127.0.0.1:PORT`, the value for `PUBSUB_EMULATOR_HOST` / `FIRESTORE_EMULATOR_HOST`. */
  host: string;
  port: number;
  /** Freezes the emulator's process group (SIGSTOP): connections stay open and nothing answers. */
  pause(): Promise<void>;
  /** Lets a paused emulator run again (SIGCONT). */
  resume(): Promise<void>;
  /** Stops the emulator and its Java child, waiting until the process group is gone. */
  stop(): Promise<void>;
}

function findOnPath(command: string, pathVariable: string | undefined): string | null {
  for (const directory of (pathVariable ?? '').split(delimiter)) {
    if (!directory) continue;
    const candidate = join(directory, command);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

let cachedAvailability: GcloudAvailability | undefined;

/** Detects the official emulators: gcloud on PATH, Java on PATH, and the emulator components installed. */
export function gcloudAvailability(pathVariable = process.env.PATH): GcloudAvailability {
  if (cachedAvailability && pathVariable === process.env.PATH) return cachedAvailability;
  const result = detect(pathVariable);
  if (pathVariable === process.env.PATH) cachedAvailability = result;
  return result;
}

function detect(pathVariable: string | undefined): GcloudAvailability {
  const gcloud = findOnPath('gcloud', pathVariable);
  if (!gcloud) return { pubsub: false, firestore: false, reason: 'gcloud is not on PATH' };
  if (!findOnPath('java', pathVariable)) {
    return { pubsub: false, firestore: false, reason: 'java is not on PATH (the emulators need Java 17+)' };
  }
  // gcloud lives in <sdk>/bin; the emulator components in <sdk>/platform.
  const platform = join(dirname(dirname(realpathSync(gcloud))), 'platform');
  const pubsub = existsSync(join(platform, 'pubsub-emulator'));
  const firestore = existsSync(join(platform, 'cloud-firestore-emulator'));
  const missing = [!pubsub && 'pubsub-emulator', !firestore && 'cloud-firestore-emulator'].filter(Boolean);
  return missing.length
    ? { pubsub, firestore, reason: `gcloud component(s) not installed: ${missing.join(', ')}` }
    : { pubsub, firestore };
}

async function startGcloudEmulator(
  args: string[],
  port: number | undefined,
  name: string,
): Promise<GcloudEmulator> {
  const chosenPort = port || (await freeLoopbackPort());
  const host = `127.0.0.1:${chosenPort}`;
  const child = spawn('gcloud', [...args, `--host-port=${host}`, '--quiet'], {
    detached: true, // its own process group, so stop() reaches the Java grandchild too
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
    },
  });
  // Last line of defence: no Java process may outlive the Node process that started it.
  killGroupOnExit(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    // A frozen group would hold SIGTERM until it runs again.
    signalGroup(child, 'SIGCONT');
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 3000);
    await exitedPromise;
    clearTimeout(timer);
    // The Java grandchild may linger briefly after the wrapper exits.
    signalGroup(child, 'SIGKILL');
  };

  try {
    await waitForHttp(host, {
      timeoutMs: 60_000,
      failed: () =>
        exited ? new Error(`${name} exited before it was ready (${JSON.stringify(exited)}):\n${output}`) : null,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host,
    port: chosenPort,
    pause: async () => void (exited || signalGroup(child, 'SIGSTOP')),
    resume: async () => void (exited || signalGroup(child, 'SIGCONT')),
    stop,
  };
}

/** Starts the official Pub/Sub emulator on loopback. */
export function startGcloudPubSub(opts: { port?: number; projectId?: string } = {}): Promise<GcloudEmulator> {
  const args = ['beta', 'emulators', 'pubsub', 'start'];
  if (opts.projectId) args.push(`--project=${opts.projectId}`);
  return startGcloudEmulator(args, opts.port, 'gcloud Pub/Sub emulator');
}

/** Starts the official Firestore emulator (native mode) on loopback. */
export function startGcloudFirestore(opts: { port?: number } = {}): Promise<GcloudEmulator> {
  return startGcloudEmulator(['emulators', 'firestore', 'start'], opts.port, 'gcloud Firestore emulator');
}
