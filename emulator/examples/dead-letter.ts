/**
 * Shows dead-lettering end to end on a Pub/Sub emulator, with the official client only:
 * a push subscription with a dead-letter policy (max 5 attempts) whose endpoint always answers 500.
 * Five attempts arrive, then the message appears on the dead-letter topic with the
 * CloudPubSubDeadLetterSource* attributes.
 *
 *   npx tsx emulator/examples/dead-letter.ts             # embedded emulator
 *   EMULATORS=gcloud npx tsx emulator/examples/dead-letter.ts   # official emulator
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { parseConfig } from '../../functions/src/config';
import { resolveEmulatorKind } from '../index';
import { startGcloudPubSub } from '../gcloud';
import { startPubSubEmulator } from '../pubsub';

export async function runDeadLetterExample(
  opts: { kind: 'embedded' | 'gcloud'; print?: (line: string) => void },
): Promise<{ attempts: number; deadLettered: Message }> {
  const print = opts.print ?? console.log;
  const emulator = opts.kind === 'gcloud' ? await startGcloudPubSub() : await startPubSubEmulator({ port: 0 });
  const started = Date.now();
  let attempts = 0;
  const endpoint = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      attempts += 1;
      const envelope = JSON.parse(body) as { deliveryAttempt?: number };
      print(`${((Date.now() - started) / 1000).toFixed(2)} s  push attempt ${attempts}` +
        ` (deliveryAttempt in body: ${envelope.deliveryAttempt ?? 'absent'}) → answering 500`);
      response.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const pubsub = new PubSub({ projectId: 'dead-letter-demo', apiEndpoint: emulator.host, emulatorMode: true });
  try {
    const [deadLetterTopic] = await pubsub.createTopic('orders-dead-letter');
    const [deadLetters] = await deadLetterTopic.createSubscription('orders-dead-letter-pull');
    const [topic] = await pubsub.createTopic('orders');
    await topic.createSubscription('orders-push', {
      pushConfig: { pushEndpoint: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/` },
      deadLetterPolicy: { deadLetterTopic: deadLetterTopic.name, maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: { seconds: 0, nanos: 200_000_000 }, maximumBackoff: { seconds: 1 } },
    });
    await topic.publishMessage({ data: Buffer.from('order 42'), attributes: { kind: 'order' } });
    const deadLettered = await new Promise<Message>((resolve) => {
      deadLetters.on('message', (message: Message) => {
        message.ack();
        resolve(message);
      });
    });
    print(`${((Date.now() - started) / 1000).toFixed(2)} s  on the dead-letter topic: ` +
      JSON.stringify({ data: deadLettered.data.toString(), attributes: deadLettered.attributes }, null, 2));
    await deadLetters.close();
    return { attempts, deadLettered };
  } finally {
    await pubsub.close();
    endpoint.closeAllConnections();
    await new Promise<void>((resolve) => endpoint.close(() => resolve()));
    await emulator.stop();
  }
}

if (require.main === module) {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const kind = resolveEmulatorKind(process.env.EMULATORS ? parseConfig(process.env).emulators : 'embedded');
  console.log(`${kind} Pub/Sub emulator; push endpoint answers 500; dead-letter policy max 5 attempts`);
  runDeadLetterExample({ kind }).then(
    ({ attempts }) => console.log(`${attempts} attempts, then dead-lettered.`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
