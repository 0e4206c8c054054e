/**
 * Pub/Sub emulator benchmark (`npx tsx bench/emulator.ts`): how fast the Node-native emulator is
 * ready, and publish→push latency and burst throughput through the official client, side by side with
 * the official gcloud emulator where it is installed. Bounded: 200 sequential messages and one burst
 * of 500 per emulator, all on loopback.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { PubSub } from '@google-cloud/pubsub';
import { gcloudAvailability, startGcloudPubSub } from '../emulator/gcloud';
import { defaultPushConcurrency, startPubSubEmulator } from '../emulator/pubsub';
import { defaultPushFlow } from '../emulator/pubsub/flow-control';
import type { BenchSection } from './types';
import { median, percentile } from './stats';

const SEQUENTIAL = 200;
const BURST = 500;
const ORDERED_KEYS = 10;
const READY_RUNS = 5;
const GCLOUD_READY_RUNS = 3;

interface ReadyProbe {
  firstMs: number;
  laterMs: number;
}

interface Delivery {
  p50: number;
  p99: number;
  burstPublishMs: number;
  burstPushedMs: number;
  /** The same burst on an ordered subscription, over ORDERED_KEYS keys. */
  orderedPushedMs: number;
  /** Pushes that arrived before an earlier message of their key had been pushed. */
  orderedOutOfOrder: number;
}

/** In a fresh process: the first start (which parses the .proto files) and a second one. */
async function readyProbe(): Promise<void> {
  let started = performance.now();
  const first = await startPubSubEmulator();
  const firstMs = performance.now() - started;
  await first.stop();
  started = performance.now();
  const later = await startPubSubEmulator();
  const laterMs = performance.now() - started;
  await later.stop();
  process.send?.({ firstMs, laterMs } satisfies ReadyProbe, () => process.exit(0));
}

/**
 * In a fresh process: an emulator that serves until its parent disconnects. The delivery figures run
 * against it there, as `npm run emulator` runs it and as the official emulator runs in a JVM of its
 * own, so neither emulator shares a thread with the client and the push endpoint that measure it.
 */
async function serve(pushFlow: boolean): Promise<void> {
  const emulator = await startPubSubEmulator({ pushFlow });
  process.once('disconnect', () => void emulator.stop().then(() => process.exit(0)));
  process.send?.({ host: emulator.host });
}

async function startServing(pushFlow: boolean): Promise<{ host: string; stop(): Promise<void> }> {
  const child = fork(__filename, ['--serve', ...(pushFlow ? ['--push-flow'] : [])], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const host = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { host: string }) => resolve(message.host));
    child.once('exit', (code) => reject(new Error(`emulator process exited with ${code} before it was ready`)));
  });
  return {
    host,
    stop: async () => {
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function runReadyProbe(): Promise<ReadyProbe> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--ready-probe'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (message: ReadyProbe) => resolve(message));
    child.once('exit', (code) => code !== 0 && reject(new Error(`ready probe exited with ${code}`)));
  });
}

/**
 * The push endpoint both emulators push to: it reads the body, tells `arrived` the message's `seq`
 * attribute and answers 204, keeping nothing. It shares this process with the client that publishes,
 * so what it costs per push slows down the measurement of whichever emulator pushes faster; the tests'
 * endpoint (test/helpers/push-endpoint.ts) keeps every request for assertions, and in a burst its
 * garbage collection alone took about a seventh of this process's time.
 */
async function startMinimalEndpoint(arrived: (seq: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: { attributes: { seq: string } } };
      arrived(envelope.message.attributes.seq);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Publish→push latency, one message at a time, then a burst published at once until all were pushed. */
async function delivery(host: string): Promise<Delivery> {
  const arrivals = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  const push = await startMinimalEndpoint((seq) => {
    arrivals.set(seq, performance.now());
    waiting.get(seq)?.();
  });
  const pubsub = new PubSub({ projectId: 'bench-emulator', apiEndpoint: host });
  try {
    const [topic] = await pubsub.createTopic('bench-latency');
    await topic.createSubscription('bench-latency-push', { pushConfig: { pushEndpoint: push.url } });
    // Flush every message at once: this measures the emulator, not the client's 10 ms batching window.
    topic.setPublishOptions({ batching: { maxMessages: 1 } });

    const latencies: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const seq = `s${i}`;
      const arrived = new Promise<void>((resolve) => waiting.set(seq, resolve));
      const sent = performance.now();
      await topic.publishMessage({ data: Buffer.from('x'), attributes: { seq } });
      await arrived;
      latencies.push(arrivals.get(seq)! - sent);
    }

    const [burstTopic] = await pubsub.createTopic('bench-burst');
    await burstTopic.createSubscription('bench-burst-push', { pushConfig: { pushEndpoint: push.url } });
    const all = Array.from({ length: BURST }, (_, i) => `b${i}`);
    const allArrived = Promise.all(all.map((seq) => new Promise<void>((resolve) => waiting.set(seq, resolve))));
    const start = performance.now();
    await Promise.all(all.map((seq) => burstTopic.publishMessage({ data: Buffer.from('x'), attributes: { seq } })));
    const burstPublishMs = performance.now() - start;
    await allArrived;
    const burstPushedMs = performance.now() - start;

    // Ordered: one outstanding push per key, so the burst goes ORDERED_KEYS pushes at a time.
    const [orderedTopic] = await pubsub.createTopic('bench-ordered');
    orderedTopic.setPublishOptions({ messageOrdering: true, batching: { maxMessages: 100 } });
    await orderedTopic.createSubscription('bench-ordered-push', { pushConfig: { pushEndpoint: push.url }, enableMessageOrdering: true });
    const ordered = Array.from({ length: BURST }, (_, i) => `o${i}`);
    const lastPushed = new Map<string, number>();
    let orderedOutOfOrder = 0;
    const orderedArrived = Promise.all(
      ordered.map(
        (seq, i) =>
          new Promise<void>((resolve) =>
            waiting.set(seq, () => {
              const key = `k${i % ORDERED_KEYS}`;
              if ((lastPushed.get(key) ?? -1) > i) orderedOutOfOrder++;
              lastPushed.set(key, Math.max(lastPushed.get(key) ?? -1, i));
              resolve();
            }),
          ),
      ),
    );
    const orderedStart = performance.now();
    await Promise.all(
      ordered.map((seq, i) =>
        orderedTopic.publishMessage({ data: Buffer.from('x'), attributes: { seq }, orderingKey: `k${i % ORDERED_KEYS}` }),
      ),
    );
    await orderedArrived;
    const orderedPushedMs = performance.now() - orderedStart;
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      burstPublishMs,
      burstPushedMs,
      orderedPushedMs,
      orderedOutOfOrder,
    };
  } finally {
    await pubsub.close();
    await push.close();
  }
}

export async function run(): Promise<BenchSection> {
  const readies: ReadyProbe[] = [];
  for (let i = 0; i < READY_RUNS; i++) readies.push(await runReadyProbe());
  const measureEmbedded = async (pushFlow: boolean): Promise<Delivery> => {
    const embedded = await startServing(pushFlow);
    try {
      return await delivery(embedded.host);
    } finally {
      await embedded.stop();
    }
  };
  // The official emulator has no push flow control: the comparison runs ours with the model off, and
  // again with it on, as `npm start` runs it.
  const embeddedDelivery = await measureEmbedded(false);
  const flowDelivery = await measureEmbedded(true);

  const availability = gcloudAvailability();
  const gcloudReady: number[] = [];
  let gcloudDelivery: Delivery | null = null;
  if (availability.pubsub) {
    for (let i = 0; i < GCLOUD_READY_RUNS; i++) {
      const started = performance.now();
      const emulator = await startGcloudPubSub();
      gcloudReady.push(performance.now() - started);
      if (i < GCLOUD_READY_RUNS - 1) {
        await emulator.stop();
        continue;
      }
      try {
        gcloudDelivery = await delivery(emulator.host);
      } finally {
        await emulator.stop();
      }
    }
  }

  const ms = (value: number): string => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
  const gcloudCell = (value: (d: Delivery) => string): string =>
    gcloudDelivery ? value(gcloudDelivery) : `skipped: ${availability.reason ?? 'not installed'}`;
  const rows: Array<[string, string, string]> = [
    [
      'ready: first start in a process (includes loading the protos)',
      ms(median(readies.map((r) => r.firstMs))),
      gcloudReady.length ? `${ms(median(gcloudReady))} (gcloud start → answering HTTP)` : gcloudCell(() => ''),
    ],
    ['ready: later start in the same process', ms(median(readies.map((r) => r.laterMs))), '—'],
    ['publish→push latency p50 (one message at a time)', ms(embeddedDelivery.p50), gcloudCell((d) => ms(d.p50))],
    ['publish→push latency p99', ms(embeddedDelivery.p99), gcloudCell((d) => ms(d.p99))],
    [
      `${BURST} messages: all published / all pushed`,
      `${ms(embeddedDelivery.burstPublishMs)} / ${ms(embeddedDelivery.burstPushedMs)}`,
      gcloudCell((d) => `${ms(d.burstPublishMs)} / ${ms(d.burstPushedMs)}`),
    ],
    [
      `${BURST} messages, push flow-control model on (as \`npm start\`): all published / all pushed`,
      `${ms(flowDelivery.burstPublishMs)} / ${ms(flowDelivery.burstPushedMs)}`,
      '— (not modelled)',
    ],
    [
      `${BURST} messages, ordered subscription, ${ORDERED_KEYS} keys: all pushed (pushes out of key order)`,
      `${ms(embeddedDelivery.orderedPushedMs)} (${embeddedDelivery.orderedOutOfOrder})`,
      gcloudCell((d) => `${ms(d.orderedPushedMs)} (${d.orderedOutOfOrder})`),
    ],
  ];
  const markdown: string[] = [
    `Official @google-cloud/pubsub client on loopback, a minimal push endpoint answering 204 (in the benchmark's process), each emulator in a process of its own; ` +
      `the Node-native emulator with its default ${defaultPushConcurrency} pushes in flight per subscription and, like the official one, ` +
      `no push flow control except in the row that says so (push window from ${defaultPushFlow.initialWindow}, +1 per ack); ready times are medians of ` +
      `${READY_RUNS} fresh processes (Node-native) and ${GCLOUD_READY_RUNS} starts (gcloud); latency over ` +
      `${SEQUENTIAL} messages published one at a time with client batching off; Node ${process.version}, ` +
      `${cpus().length} cores shared with other work (load average ${loadavg()[0]!.toFixed(1)} when the run ended). ` +
      `Goals: Node-native ready ≤ 150 ms, publish→push p50 ≤ 5 ms, the burst fully pushed in at most 0.3 of the official emulator's time.`,
    '',
    '| measure | Node-native emulator | official gcloud emulator |',
    '|---|---:|---:|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
  if (gcloudDelivery && gcloudReady.length) {
    const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
    markdown.push(
      '',
      `- Node-native vs official, same run: first start ${ratio(median(readies.map((r) => r.firstMs)), median(gcloudReady))}, ` +
        `publish→push p50 ${ratio(embeddedDelivery.p50, gcloudDelivery.p50)}, ` +
        `${BURST}-message burst fully pushed ${ratio(embeddedDelivery.burstPushedMs, gcloudDelivery.burstPushedMs)} of the time ` +
        `(${ratio(flowDelivery.burstPushedMs, gcloudDelivery.burstPushedMs)} with the push flow-control model on), ` +
        `ordered ${ratio(embeddedDelivery.orderedPushedMs, gcloudDelivery.orderedPushedMs)}.`,
    );
  }
  return { title: 'Pub/Sub emulator', command: 'npx tsx bench/emulator.ts', markdown: markdown.join('\n') };
}

if (require.main === module) {
  if (process.argv.includes('--ready-probe')) {
    void readyProbe();
  } else if (process.argv.includes('--serve')) {
    void serve(process.argv.includes('--push-flow'));
  } else {
    run().then(
      (section) => console.log(`## ${section.title}\n\n${section.markdown}\n\n\`${section.command}\``),
      (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
  }
}
