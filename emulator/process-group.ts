/**
 * Children started in a process group of their own (`detached: true`), so that one signal reaches
 * every process of it — gcloud's Python wrapper and the Java it starts, a cluster primary and its
 * workers — and so that none outlives this process: an exit hook SIGKILLs every group still running.
 */
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Sends `signal` to the child's whole process group; a group that is gone already is not an error. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Tracks a detached child until it exits; if this process exits first, the child's group is SIGKILLed. */
export function killGroupOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const tracked of running) signalGroup(tracked, 'SIGKILL');
    });
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}
