/**
 * `npm start` (= `stack`) and `npm run emulator -- <pubsub|firestore|stack> [--port N] [--demo]`.
 * Ctrl-C stops everything it started, Java children included.
 */
import { parseArgs } from 'node:util';
import { parseConfig } from '../functions/src/config';
import { startFirestoreEmulator } from './firestore';
import { resolveEmulatorKind, type EmulatorChoice } from './index';
import { startGcloudPubSub } from './gcloud';
import { startPubSubEmulator } from './pubsub';
import { startLocalStack } from './stack';

const usage = `usage:
  npm start [-- --demo] [--no-push-flow]      the whole system on local emulators (the embedded Pub/Sub
                                              models push flow control; --no-push-flow turns it off)
  npm run emulator -- pubsub [--port 8085]    a Pub/Sub emulator only
  npm run emulator -- firestore [--port 8086] a Firestore emulator only
environment: EMULATORS=auto|gcloud|embedded (npm start defaults to embedded), PORT (API port, 8080)`;

function onStop(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { port: { type: 'string' }, demo: { type: 'boolean' }, 'no-push-flow': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0] ?? 'stack';
  if (values.help || !['stack', 'pubsub', 'firestore'].includes(command)) {
    console.log(usage);
    process.exitCode = values.help ? 0 : 1;
    return;
  }
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const config = parseConfig(process.env);
  // `npm start` favours a fast start; EMULATORS=gcloud (or auto) opts into the official emulators.
  const choice: EmulatorChoice = process.env.EMULATORS ? config.emulators : 'embedded';
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new Error(`--port: expected 0–65535, got "${values.port}"`);
  }
  const kind = resolveEmulatorKind(choice);

  if (command === 'pubsub') {
    const emulator = kind === 'gcloud' ? await startGcloudPubSub({ port }) : await startPubSubEmulator({ port: port ?? 8085, pushFlow: !values['no-push-flow'] });
    console.log(`${kind} Pub/Sub emulator on ${emulator.host}\nexport PUBSUB_EMULATOR_HOST=${emulator.host}`);
    onStop(emulator.stop);
    return;
  }
  if (command === 'firestore') {
    const emulator = await startFirestoreEmulator({ kind, port: port ?? 8086 });
    console.log(`${kind} Firestore emulator on ${emulator.host}\nexport FIRESTORE_EMULATOR_HOST=${emulator.host}`);
    onStop(emulator.stop);
    return;
  }

  // Each function as its own service, as deployed: its own process and event loop, NODE_ENV=production.
  const stack = await startLocalStack({ emulators: kind, env: process.env, apiPort: port ?? config.port, demo: values.demo, functionProcesses: 'all', pushFlow: !values['no-push-flow'] });
  onStop(stack.stop);
  const sample = stack.demo?.urls ?? ['https://example.com/a-post', 'https://example.com/another-post'];
  // The page's address first: it is what a first visitor opens.
  console.log(`Open ${stack.apiUrl}/ in a browser${stack.demo ? ` and paste the demo URLs below (or the feed ${stack.demo.feeds.rss})` : ''}.
portfolio-scraper running on ${stack.kind} emulators
  API               ${stack.apiUrl}
  Pub/Sub emulator  ${stack.hosts.pubsub}   (topic ${stack.names.topic}, dead letters ${stack.names.deadLetterTopic})
  Firestore emulator ${stack.hosts.firestore}   (project ${stack.projectId})${stack.demo ? `\n  demo site         ${stack.demo.baseUrl}` : ''}

Submit a portfolio:
  curl -s -X POST ${stack.apiUrl}/portfolios -H 'content-type: application/json' \\
    -d '${JSON.stringify({ name: 'demo', urls: sample })}'
then follow its statusUrl.${stack.demo ? `\n\nDemo URLs, one per line for the form:\n${stack.demo.urls.join('\n')}` : ''}
Ctrl-C stops everything.`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
