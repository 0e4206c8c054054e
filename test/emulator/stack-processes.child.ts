/**
 * A parent for stack-processes.test.ts to kill: starts a stack with every function in its own
 * process, prints their pids and ports as one JSON line, and waits to be killed.
 */
import { startLocalStack } from '../../emulator/stack';

startLocalStack({ emulators: 'embedded', apiPort: 0, functionProcesses: 'all', deps: { log: () => undefined } }).then(
  (stack) => {
    const services = [stack.api, stack.scraper, stack.recorder];
    const pids = services.flatMap((service) => service.pids());
    const ports = services.map((service) => Number(new URL(service.url).port));
    process.stdout.write(`${JSON.stringify({ pids, ports })}\n`);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
