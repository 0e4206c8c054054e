/**
 * The local stack: the production wiring in miniature. Emulators, the three functions served over
 * HTTP by functions-framework (each on its own loopback port, as each function has its own URL on
 * Google Cloud), and the topology provisioned with push subscriptions pointing at them.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import * as functionsFramework from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createFunctions } from '../functions/src/app';
import { parseConfig, type Config } from '../functions/src/config';
import { topology, type RetryBackoff } from '../functions/src/topology';
import { startDemoSite, type DemoSite } from './demo-site';
import { clientsFor, startEmulators, type EmulatorChoice, type EmulatorClients, type EmulatorHosts, type EmulatorKind } from './index';
import { provisionTopology, topologyNames, type TopologyNames } from './provision';

type FunctionDeps = Parameters<typeof createFunctions>[0];

/** How to start the stack. */
export interface LocalStackOptions {
  /** Which emulators to start (default embedded, for a fast start). Ignored when `running` is given. */
  emulators?: EmulatorChoice;
  /** Emulators already running (e.g. a test lane's), reused instead of starting new ones. */
  running?: { kind: EmulatorKind; hosts: EmulatorHosts };
  /** Project id on the emulators (default: GOOGLE_CLOUD_PROJECT or local-project; unique when `running`). */
  projectId?: string;
  /** Port of the API (default: PORT from env, else 8080; 0 = a free port). */
  apiPort?: number;
  /** Environment passed to parseConfig (defaults to none); the stack adds its own keys on top. */
  env?: Record<string, string | undefined>;
  /** Retry backoff of both subscriptions (default: topology.localBackoff). */
  backoff?: RetryBackoff;
  maxDeliveryAttempts?: number;
  /** Push concurrency per subscription of the embedded Pub/Sub emulator. */
  pushConcurrency?: number;
  /** Also serve the built-in demo site. */
  demo?: boolean;
  /** Overrides of the functions' dependencies (a logger, a fetcher with an injected resolver…). */
  deps?: Partial<Omit<FunctionDeps, 'config' | 'pubsub' | 'firestore'>>;
}

/** A running local stack. */
export interface LocalStack {
  /** e.g. `http://127.0.0.1:8080` */
  apiUrl: string;
  scraperUrl: string;
  recorderUrl: string;
  demo?: DemoSite;
  kind: EmulatorKind;
  projectId: string;
  config: Config;
  hosts: EmulatorHosts;
  names: TopologyNames;
  clients: EmulatorClients;
  stop(): Promise<void>;
}

async function serve(name: string, handler: functionsFramework.HttpFunction, port: number): Promise<{ server: Server; url: string }> {
  // functions-framework's own server (body parsing, error handling) — exactly what runs in production.
  functionsFramework.http(name, handler);
  const server = getTestServer(name);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Starts emulators (unless given), the functions, the demo site if asked, and provisions the topology. */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch(() => undefined);
    }
  };
  try {
    let kind: EmulatorKind;
    let hosts: EmulatorHosts;
    if (opts.running) {
      ({ kind, hosts } = opts.running);
    } else {
      const emulators = await startEmulators({ choice: opts.emulators ?? 'embedded', pushConcurrency: opts.pushConcurrency });
      cleanups.push(emulators.stop);
      ({ kind, hosts } = emulators);
    }
    const base = parseConfig(opts.env ?? {});
    const suffix = opts.running ? randomBytes(3).toString('hex') : undefined;
    const projectId = opts.projectId ?? (opts.running ? `stack-${suffix}` : base.projectId);
    const names = topologyNames(suffix);
    const config = parseConfig({
      ...opts.env,
      GOOGLE_CLOUD_PROJECT: projectId,
      ARTICLE_TOPIC: names.topic,
      // The local stack scrapes sites on loopback (the demo site, test sites); production never sets this.
      ALLOW_PRIVATE_NETWORKS: opts.env?.ALLOW_PRIVATE_NETWORKS ?? 'true',
    });
    const clients = clientsFor(hosts, projectId);
    cleanups.push(clients.close);
    const functions = createFunctions({ ...opts.deps, config, pubsub: clients.pubsub, firestore: clients.firestore });
    const id = randomBytes(3).toString('hex');
    const api = await serve(`api-${id}`, functions.api, opts.apiPort ?? config.port);
    cleanups.push(() => close(api.server));
    const scraper = await serve(`scrapeArticle-${id}`, functions.scrapeArticle, 0);
    cleanups.push(() => close(scraper.server));
    const recorder = await serve(`recordDeadLetter-${id}`, functions.recordDeadLetter, 0);
    cleanups.push(() => close(recorder.server));
    let demo: DemoSite | undefined;
    if (opts.demo) {
      demo = await startDemoSite();
      cleanups.push(demo.stop);
    }
    await provisionTopology({
      pubsub: clients.pubsub,
      names,
      pushEndpoints: { scraper: `${scraper.url}/`, deadLetter: `${recorder.url}/` },
      backoff: opts.backoff ?? topology.localBackoff,
      maxDeliveryAttempts: opts.maxDeliveryAttempts ?? topology.maxDeliveryAttempts,
    });
    if (opts.running) {
      // Emulators outlive this stack: stop their pushes to our soon-closed ports first.
      cleanups.push(async () => {
        await Promise.allSettled(
          [names.pushSubscription, names.deadLetterSubscription].map((name) => clients.pubsub.subscription(name).delete()),
        );
      });
    }
    return {
      apiUrl: api.url,
      scraperUrl: scraper.url,
      recorderUrl: recorder.url,
      demo,
      kind,
      projectId,
      config,
      hosts,
      names,
      clients,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
