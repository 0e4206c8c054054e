/**
 * Dead-letter demo (`npx tsx emulator/pubsub/demo.ts [--host HOST:PORT]`): a push subscription with a
 * dead-letter policy (max 5 attempts, retry backoff 0–1 s) whose endpoint — a local HTTP server —
 * answers 500. Prints the five attempts, then the message as it arrives on the dead-letter topic.
 * Without --host it starts the Node-native emulator in process; with it, it talks to a running one
 * (e.g. `npm run emulator -- pubsub --port 8085` or `gcloud beta emulators pubsub start`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { startPubSubEmulator } from './index';

function parseArgs(argv: string[]): { host: string | null } {
  const index = argv.indexOf('--host');
  if (index < 0) return { host: null };
  const host = argv[index + 1];
  if (!host || !/^[^:]+:\d+$/.test(host)) throw new Error('--host needs HOST:PORT, e.g. --host 127.0.0.1:8085');
  return { host };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const emulator = args.host ? null : await startPubSubEmulator();
  const host = args.host ?? emulator!.host;
  const started = Date.now();
  const seconds = (): string => ((Date.now() - started) / 1000).toFixed(2).padStart(6);

  const endpoint = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const envelope = JSON.parse(body) as { deliveryAttempt?: number; message: { messageId: string } };
      console.log(
        `${seconds()} s  push attempt ${envelope.deliveryAttempt ?? '(no deliveryAttempt in body)'} of message ` +
          `${envelope.message.messageId} → answering 500`,
      );
      res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const pushEndpoint = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/`;

  const pubsub = new PubSub({ projectId: 'dead-letter-demo', apiEndpoint: host });
  const suffix = Date.now().toString(36);
  try {
    const [topic] = await pubsub.createTopic(`articles-${suffix}`);
    const [deadLetterTopic] = await pubsub.createTopic(`articles-dead-letter-${suffix}`);
    const [deadLetters] = await deadLetterTopic.createSubscription(`dead-letter-reader-${suffix}`);
    await topic.createSubscription(`scraper-${suffix}`, {
      pushConfig: { pushEndpoint },
      deadLetterPolicy: { deadLetterTopic: deadLetterTopic.name, maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 1 } },
    });
    console.log(`Pub/Sub at ${host}; push endpoint ${pushEndpoint} answers 500; max 5 delivery attempts.`);
    await topic.publishMessage({ data: Buffer.from('https://example.com/article'), attributes: { portfolioId: 'demo' } });

    const dead = await new Promise<Message>((resolve) =>
      deadLetters.once('message', (message: Message) => {
        message.ack();
        resolve(message);
      }),
    );
    console.log(`${seconds()} s  on the dead-letter topic: "${dead.data.toString()}"`, dead.attributes);
    await deadLetters.close();
  } finally {
    await pubsub.close();
    await new Promise((resolve) => endpoint.close(resolve));
    await emulator?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
