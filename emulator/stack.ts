/**
 * The local stack: the production wiring in miniature. Emulators, the three functions served over
 * HTTP by functions-framework (each on its own loopback port, as each function has its own URL on
 * Google Cloud), and the topology provisioned with push subscriptions pointing at them.
 *
 * The functions run inside this process by default (fast to start, easy to inject fakes into), or
 * each in its own child process (`functionProcesses`), as each is its own service in production:
 * then a function can be killed and restarted, and the scraper can run as several instances.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import * as functionsFramework from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createFunctions, type PipelineFunctions } from '../functions/src/app';
import { parseConfig, type Config } from '../functions/src/config';
import { guardCompressedBodies } from '../functions/src/http/compressedBodies';
import { topology, type RetryBackoff } from '../functions/src/topology';
import { startDemoSite, type DemoSite } from './demo-site';
import { startFunctionProcess, type FunctionProcess, type FunctionTarget } from './function-process';
import { clientsFor, startEmulators, type EmulatorChoice, type EmulatorClients, type EmulatorHosts, type EmulatorKind } from './index';
import { freeServicePort } from './ports';
import { provisionTopology, topologyNames, type TopologyNames } from './provision';
import { pushClaims, type PushSigning, type PushTokenClaims } from './pubsub/oidc';

type FunctionDeps = Parameters<typeof createFunctions>[0];

/** How to start the stack. */
export interface LocalStackOptions {
  /** Which emulators to start (default embedded, for a fast start). Ignored when `running` is given. */
  emulators?: EmulatorChoice;
  /** Emulators already running (e.g. a test lane's), reused instead of starting new ones. */
  running?: { kind: EmulatorKind; hosts: EmulatorHosts; pushSigner?: PushSigning };
  /** Project id on the emulators (default: GOOGLE_CLOUD_PROJECT or local-project; unique when `running`). */
  projectId?: string;
  /** Port of the API (default: PORT from env, else 8080; 0 = a free port). */
  apiPort?: number;
  /** Environment passed to parseConfig (defaults to none); the stack adds its own keys on top. */
  env?: Record<string, string | undefined>;
  /** Retry backoff of the scraper's and the recorder's subscriptions (default: topology.localBackoff). */
  backoff?: RetryBackoff;
  /** Retry backoff of the delay subscription (default: topology.delayBackoff.local). */
  delayBackoff?: RetryBackoff;
  maxDeliveryAttempts?: number;
  /** Push concurrency per subscription of the embedded Pub/Sub emulator. */
  pushConcurrency?: number;
  /** Model the real service's push flow control on the embedded Pub/Sub emulator (npm start does). */
  pushFlow?: boolean;
  /** Also serve the built-in demo site. */
  demo?: boolean;
  /**
   * Where the functions run: all inside this process (`none`, the default), the scraper in its own
   * child process (`scraper`), or each of the three in its own (`all`). A child is configured only
   * through the environment (`env` plus the stack's keys and the emulator hosts).
   */
  functionProcesses?: 'none' | 'scraper' | 'all';
  /** Scraper processes sharing its port (node:cluster), like Cloud Run instances; needs `functionProcesses`. */
  scraperInstances?: number;
  /**
   * Overrides of the functions' dependencies (a logger, a fetcher with an injected resolver…). A
   * function in its own process takes only `log`: it receives the child's log lines.
   */
  deps?: Partial<Omit<FunctionDeps, 'config' | 'pubsub' | 'firestore'>>;
}

/**
 * One function of the stack as a service with a fixed URL. Inside the stack's process it has no
 * pids of its own, and kill/restart refuse.
 */
export interface FunctionService extends Pick<FunctionProcess, 'target' | 'url' | 'pids' | 'kill' | 'restart'> {
  /** True when it runs in its own process (only then can it be killed and restarted). */
  ownProcess: boolean;
}

/** A running local stack. */
export interface LocalStack {
  /** e.g. `http://127.0.0.1:8080` */
  apiUrl: string;
  scraperUrl: string;
  recorderUrl: string;
  api: FunctionService;
  scraper: FunctionService;
  recorder: FunctionService;
  demo?: DemoSite;
  kind: EmulatorKind;
  projectId: string;
  config: Config;
  hosts: EmulatorHosts;
  names: TopologyNames;
  clients: EmulatorClients;
  /** The account the push subscriptions sign as; null when pushes are not signed (the official emulator). */
  pushServiceAccount: string | null;
  /**
   * Headers that make a hand-made POST to a push function look like Pub/Sub's own push: a token
   * signed by the embedded emulator for that function, with `claims` overriding Google's. Empty
   * when pushes are not verified.
   */
  pushHeaders(target: 'scrapeArticle' | 'recordDeadLetter', claims?: PushTokenClaims): Record<string, string>;
  stop(): Promise<void>;
}

async function serve(name: string, handler: functionsFramework.HttpFunction, port: number): Promise<{ server: Server; url: string }> {
  // functions-framework's own server (body parsing, error handling) — exactly what runs in production.
  functionsFramework.http(name, handler);
  const server = getTestServer(name);
  // As the production entry does for its process: compressed bodies never reach the framework's parsers.
  guardCompressedBodies([server]);
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

function inProcessService(target: FunctionTarget, url: string): FunctionService {
  const refuse = async (): Promise<void> => {
    throw new Error(`${target} runs inside the stack's process; start the stack with functionProcesses: 'all' (or 'scraper') to kill or restart it.`);
  };
  return { target, url, ownProcess: false, pids: () => [], kill: refuse, restart: refuse };
}

function processService(child: FunctionProcess): FunctionService {
  return { target: child.target, url: child.url, ownProcess: true, pids: child.pids, kill: child.kill, restart: child.restart };
}

/** Keeps the defined values: the environment of a child holds strings only. */
function definedEntries(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Starts emulators (unless given), the functions, the demo site if asked, and provisions the topology. */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const placement = opts.functionProcesses ?? 'none';
  const ownProcess = (target: FunctionTarget): boolean => placement === 'all' || (placement === 'scraper' && target === 'scrapeArticle');
  if ((opts.scraperInstances ?? 1) > 1 && placement === 'none') {
    throw new Error('scraperInstances > 1 needs the scraper in its own process: set functionProcesses to scraper or all.');
  }
  const { log, ...otherDeps } = opts.deps ?? {};
  const injected = Object.keys(otherDeps).filter((key) => otherDeps[key as keyof typeof otherDeps] !== undefined);
  if (placement !== 'none' && injected.length > 0) {
    throw new Error(`deps.${injected.join(', deps.')} cannot reach a function in its own process; only deps.log can.`);
  }
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch(() => undefined);
    }
  };
  try {
    let kind: EmulatorKind;
    let hosts: EmulatorHosts;
    let signer: PushSigning | undefined;
    if (opts.running) {
      ({ kind, hosts, pushSigner: signer } = opts.running);
    } else {
      const emulators = await startEmulators({ choice: opts.emulators ?? 'embedded', pushConcurrency: opts.pushConcurrency, pushFlow: opts.pushFlow });
      cleanups.push(emulators.stop);
      ({ kind, hosts, pushSigner: signer } = emulators);
    }
    const base = parseConfig(opts.env ?? {});
    const suffix = opts.running ? randomBytes(3).toString('hex') : undefined;
    const projectId = opts.projectId ?? (opts.running ? `stack-${suffix}` : base.projectId);
    const names = topologyNames(suffix);
    // The API's port is chosen now, so that its own URL can be configured as its public base URL
    // (as infra does), and a 202's statusUrl is absolute.
    const apiPort = (opts.apiPort ?? base.port) || (await freeServicePort());
    // The one configuration of every function, in-process or not: a child gets exactly this as its
    // environment, plus where the emulators are (read by the client libraries).
    const configEnv: Record<string, string | undefined> = {
      ...opts.env,
      GOOGLE_CLOUD_PROJECT: projectId,
      ARTICLE_TOPIC: names.topic,
      DELAY_TOPIC: names.delayTopic,
      // The scraper ends a round after as many fetches as the subscription has delivery attempts.
      MAX_DELIVERY_ATTEMPTS: String(opts.maxDeliveryAttempts ?? topology.maxDeliveryAttempts),
      // A re-queue after our own outage waits seconds here, not minutes as in production.
      REQUEUE_DELAY_SECONDS: opts.env?.REQUEUE_DELAY_SECONDS ?? String(topology.requeue.local.delaySeconds),
      REQUEUE_MAX_DELAY_SECONDS: opts.env?.REQUEUE_MAX_DELAY_SECONDS ?? String(topology.requeue.local.maxDelaySeconds),
      // The local stack scrapes sites on loopback (the demo site, test sites); production never sets this.
      ALLOW_PRIVATE_NETWORKS: opts.env?.ALLOW_PRIVATE_NETWORKS ?? 'true',
      PUBLIC_BASE_URL: opts.env?.PUBLIC_BASE_URL ?? `http://127.0.0.1:${apiPort}`,
    };
    const config = parseConfig(configEnv);
    // As infra does: the push subscriptions sign as one service account with the function's URL as
    // audience, and each push function verifies exactly that. Only the embedded emulator signs; on
    // the official one pushes stay unverified. The ports are chosen first: a URL is its audience.
    const pushServiceAccount = signer ? `push-invoker@${projectId}.iam.gserviceaccount.com` : null;
    const pushPorts = { scrapeArticle: signer ? await freeServicePort() : 0, recordDeadLetter: signer ? await freeServicePort() : 0 };
    const audienceOf = (target: 'scrapeArticle' | 'recordDeadLetter'): string => `http://127.0.0.1:${pushPorts[target]}/`;
    const envOf = (target: FunctionTarget): Record<string, string | undefined> =>
      signer && target !== 'api' ? { ...configEnv, PUSH_AUDIENCE: audienceOf(target), PUSH_SERVICE_ACCOUNT: pushServiceAccount ?? undefined, PUSH_JWKS_URL: signer.jwksUrl } : configEnv;
    const clients = clientsFor(hosts, projectId);
    cleanups.push(clients.close);

    const childEnv = (target: FunctionTarget): Record<string, string> =>
      definedEntries({
        // As deployed (infra/settings.ts): the framework's error pages carry no stack trace.
        NODE_ENV: 'production',
        ...envOf(target),
        PUBSUB_EMULATOR_HOST: hosts.pubsub,
        FIRESTORE_EMULATOR_HOST: hosts.firestore,
        METADATA_SERVER_DETECTION: 'none',
      });
    // Made only if some function runs in this process; the push functions each with their own audience.
    let functions: PipelineFunctions | undefined;
    const inProcess = (target: FunctionTarget): PipelineFunctions[FunctionTarget] => {
      if (target !== 'api' && signer) return createFunctions({ ...opts.deps, config: parseConfig(envOf(target)), pubsub: clients.pubsub, firestore: clients.firestore })[target];
      functions ??= createFunctions({ ...opts.deps, config, pubsub: clients.pubsub, firestore: clients.firestore });
      return functions[target];
    };
    const id = randomBytes(3).toString('hex');
    const start = async (target: FunctionTarget, port: number): Promise<FunctionService> => {
      if (ownProcess(target)) {
        // A fixed port (outside the ephemeral range), so the push endpoint stays valid across kills and restarts.
        const child = await startFunctionProcess({
          target,
          port: port || (await freeServicePort()),
          env: childEnv(target),
          instances: target === 'scrapeArticle' ? opts.scraperInstances : 1,
          log,
        });
        cleanups.push(child.stop);
        return processService(child);
      }
      const served = await serve(`${target}-${id}`, inProcess(target), port);
      cleanups.push(() => close(served.server));
      return inProcessService(target, served.url);
    };
    // Started together: a child process takes about a second to load the functions.
    // allSettled, so a failed start never leaves another still starting after stop() has run.
    const started = await Promise.allSettled([start('api', apiPort), start('scrapeArticle', pushPorts.scrapeArticle), start('recordDeadLetter', pushPorts.recordDeadLetter)]);
    const failedStart = started.find((result) => result.status === 'rejected');
    if (failedStart) throw failedStart.reason;
    const [api, scraper, recorder] = started.map((result) => (result as PromiseFulfilledResult<FunctionService>).value) as [FunctionService, FunctionService, FunctionService];
    let demo: DemoSite | undefined;
    if (opts.demo) {
      demo = await startDemoSite();
      cleanups.push(demo.stop);
    }
    await provisionTopology({
      pubsub: clients.pubsub,
      names,
      pushEndpoints: { scraper: `${scraper.url}/`, deadLetter: `${recorder.url}/` },
      oidcToken: pushServiceAccount ? { serviceAccountEmail: pushServiceAccount, audiences: { scraper: audienceOf('scrapeArticle'), deadLetter: audienceOf('recordDeadLetter') } } : undefined,
      backoff: opts.backoff ?? topology.localBackoff,
      delayBackoff: opts.delayBackoff ?? topology.delayBackoff.local,
      maxDeliveryAttempts: opts.maxDeliveryAttempts ?? topology.maxDeliveryAttempts,
    });
    if (opts.running) {
      // Emulators outlive this stack: stop their pushes to our soon-closed ports first.
      cleanups.push(async () => {
        await Promise.allSettled(
          [names.pushSubscription, names.deadLetterSubscription, names.deadLetterAuditSubscription, names.delaySubscription].map((name) => clients.pubsub.subscription(name).delete()),
        );
      });
    }
    return {
      apiUrl: api.url,
      scraperUrl: scraper.url,
      recorderUrl: recorder.url,
      api,
      scraper,
      recorder,
      demo,
      kind,
      projectId,
      config,
      hosts,
      names,
      clients,
      pushServiceAccount,
      pushHeaders: (target, claims = {}): Record<string, string> => {
        if (!signer || !pushServiceAccount) return {};
        const token = signer.sign({ ...pushClaims({ serviceAccountEmail: pushServiceAccount, audience: audienceOf(target) }, audienceOf(target), Math.floor(Date.now() / 1000)), ...claims });
        return { authorization: `Bearer ${token}` };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
