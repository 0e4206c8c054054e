/**
 * Things that go wrong under a running pipeline, played in the middle of a chaos run (chaos.ts):
 * the storage goes away for a few seconds; the scraper's process is killed and started again, or
 * frozen and resumed.
 */
import type { Disturbance } from './chaos';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Firestore unavailable for `seconds`, every document kept (see FirestoreEmulator.pause: the embedded
 * emulator refuses connections, the official one is frozen). Deliveries meanwhile fail or wait; the
 * run must still end with every URL terminal.
 */
export function storageOutage(options: { seconds: number; atTerminalFraction: number }): Disturbance {
  return {
    name: `Firestore unavailable for ${options.seconds} s`,
    atTerminalFraction: options.atTerminalFraction,
    async run({ emulators }) {
      const from = Date.now();
      await emulators.firestore.pause();
      try {
        await sleep(options.seconds * 1000);
      } finally {
        await emulators.firestore.resume();
      }
      const to = Date.now();
      return { figures: { mode: emulators.kind === 'embedded' ? 'port closed, connections cut' : 'process frozen (SIGSTOP)', 'outage lasted': `${((to - from) / 1000).toFixed(1)} s` }, window: { from, to } };
    },
  };
}

/**
 * The scraper's processes killed with `signal` (SIGKILL: no goodbye, deliveries in flight cut off),
 * left down for `downSeconds`, then started again on the same port. Needs the stack's scraper in its
 * own process (`functionProcesses: 'scraper'`).
 */
export function scraperCrash(options: { downSeconds: number; atTerminalFraction: number; signal?: NodeJS.Signals }): Disturbance {
  const signal = options.signal ?? 'SIGKILL';
  return {
    name: `scraper killed (${signal}), restarted after ${options.downSeconds} s`,
    atTerminalFraction: options.atTerminalFraction,
    async run({ stack }) {
      const pids = stack.scraper.pids();
      if (pids.length === 0) throw new Error('The scraper runs inside the stack; start it with functionProcesses: "scraper".');
      const from = Date.now();
      await stack.scraper.kill(signal);
      const gone = stack.scraper.pids();
      if (gone.length > 0) throw new Error(`The scraper survived ${signal}: processes ${gone.join(', ')} still run.`);
      await sleep(options.downSeconds * 1000);
      const restarting = Date.now();
      await stack.scraper.restart();
      const to = Date.now();
      return {
        figures: {
          'processes killed': String(pids.length),
          'restart took': `${((to - restarting) / 1000).toFixed(1)} s`,
          'scraper down for': `${((to - from) / 1000).toFixed(1)} s`,
        },
        window: { from, to },
      };
    },
  };
}

/**
 * The scraper's processes frozen (SIGSTOP) for `seconds`, then resumed (SIGCONT): pushes in flight
 * hang until their ack deadline and new ones are not answered, as a wedged instance behaves.
 */
export function scraperFreeze(options: { seconds: number; atTerminalFraction: number }): Disturbance {
  return {
    name: `scraper frozen (SIGSTOP) for ${options.seconds} s`,
    atTerminalFraction: options.atTerminalFraction,
    async run({ stack }) {
      const pids = stack.scraper.pids();
      if (pids.length === 0) throw new Error('The scraper runs inside the stack; start it with functionProcesses: "scraper".');
      const from = Date.now();
      await stack.scraper.kill('SIGSTOP');
      try {
        await sleep(options.seconds * 1000);
      } finally {
        await stack.scraper.kill('SIGCONT');
      }
      const to = Date.now();
      return { figures: { 'processes frozen': String(pids.length), 'scraper frozen for': `${((to - from) / 1000).toFixed(1)} s` }, window: { from, to } };
    },
  };
}
