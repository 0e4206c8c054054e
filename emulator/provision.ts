/**
 * Provisions the message topology of functions/src/topology.ts on an emulator — the same topics,
 * subscriptions, dead-letter policy and retry policy that infra/ creates on Google Cloud, with
 * push endpoints pointing at the locally served functions.
 */
import type { PubSub, Subscription, Topic } from '@google-cloud/pubsub';
import { topology, type RetryBackoff } from '../functions/src/topology';

/** The local audit subscription's ack deadline: how long a message a redrive run leased stays out of sight. */
export const AUDIT_ACK_DEADLINE_SECONDS = 60;

/** Resource ids of one deployment of the topology. */
export interface TopologyNames {
  topic: string;
  deadLetterTopic: string;
  pushSubscription: string;
  deadLetterSubscription: string;
  deadLetterAuditSubscription: string;
  delayTopic: string;
  delaySubscription: string;
}

/** The topology's names, with `-<suffix>` appended so concurrent test runs never collide. */
export function topologyNames(suffix?: string): TopologyNames {
  const tail = suffix ? `-${suffix}` : '';
  return {
    topic: `${topology.topic}${tail}`,
    deadLetterTopic: `${topology.deadLetterTopic}${tail}`,
    pushSubscription: `${topology.pushSubscription}${tail}`,
    deadLetterSubscription: `${topology.deadLetterSubscription}${tail}`,
    deadLetterAuditSubscription: `${topology.deadLetterAuditSubscription}${tail}`,
    delayTopic: `${topology.delayTopic}${tail}`,
    delaySubscription: `${topology.delaySubscription}${tail}`,
  };
}

/** What to provision. */
export interface ProvisionOptions {
  pubsub: PubSub;
  names?: TopologyNames;
  /** Where Pub/Sub pushes: the scraper function and the dead-letter recorder function. */
  pushEndpoints: { scraper: string; deadLetter: string };
  /**
   * Signed pushes, as infra sets them: the account the subscriptions sign as and the audience of
   * each function (the recorder's serves the dead-letter and the delay subscriptions). Unsigned when absent.
   */
  oidcToken?: { serviceAccountEmail: string; audiences: { scraper: string; deadLetter: string } };
  backoff?: RetryBackoff;
  /** Backoff of the delay subscription (default topology.delayBackoff.local). */
  delayBackoff?: RetryBackoff;
  maxDeliveryAttempts?: number;
  ackDeadlineSeconds?: number;
}

const ALREADY_EXISTS = 6;

async function ensureTopic(pubsub: PubSub, name: string): Promise<Topic> {
  const topic = pubsub.topic(name);
  try {
    await topic.create();
  } catch (error) {
    if ((error as { code?: number }).code !== ALREADY_EXISTS) throw error;
  }
  return topic;
}

type SubscriptionSettings = Parameters<Subscription['setMetadata']>[0];

async function ensureSubscription(topic: Topic, name: string, settings: SubscriptionSettings): Promise<void> {
  try {
    await topic.createSubscription(name, settings);
  } catch (error) {
    if ((error as { code?: number }).code !== ALREADY_EXISTS) throw error;
    // Provisioning is idempotent: an existing subscription is brought to the wanted settings.
    await topic.subscription(name).setMetadata(settings);
  }
}

function duration(seconds: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(seconds), nanos: Math.round((seconds % 1) * 1e9) };
}

function retryPolicyOf(backoff: RetryBackoff): { minimumBackoff: { seconds: number; nanos: number }; maximumBackoff: { seconds: number; nanos: number } } {
  return { minimumBackoff: duration(backoff.minimumBackoffSeconds), maximumBackoff: duration(backoff.maximumBackoffSeconds) };
}

/** Creates (or updates) the three topics and their push subscriptions. Returns the names used. */
export async function provisionTopology(opts: ProvisionOptions): Promise<TopologyNames> {
  const names = opts.names ?? topologyNames();
  const backoff = opts.backoff ?? topology.localBackoff;
  const retryPolicy = retryPolicyOf(backoff);
  const ackDeadlineSeconds = opts.ackDeadlineSeconds ?? topology.ackDeadlineSeconds;
  const oidc = opts.oidcToken;
  const pushConfig = (endpoint: 'scraper' | 'deadLetter'): SubscriptionSettings['pushConfig'] => ({
    pushEndpoint: opts.pushEndpoints[endpoint],
    ...(oidc ? { oidcToken: { serviceAccountEmail: oidc.serviceAccountEmail, audience: oidc.audiences[endpoint] } } : {}),
  });
  const topic = await ensureTopic(opts.pubsub, names.topic);
  const deadLetterTopic = await ensureTopic(opts.pubsub, names.deadLetterTopic);
  await ensureSubscription(topic, names.pushSubscription, {
    pushConfig: pushConfig('scraper'),
    ackDeadlineSeconds,
    retryPolicy,
    deadLetterPolicy: {
      deadLetterTopic: deadLetterTopic.name,
      maxDeliveryAttempts: opts.maxDeliveryAttempts ?? topology.maxDeliveryAttempts,
    },
  });
  // Nothing dead-lettered may be lost: the dead-letter topic has its own push subscription to the
  // recorder, retried with the same backoff (and no dead-letter policy of its own).
  await ensureSubscription(deadLetterTopic, names.deadLetterSubscription, {
    pushConfig: pushConfig('deadLetter'),
    ackDeadlineSeconds: topology.recorderTimeoutSeconds + 10,
    retryPolicy,
  });
  // As in infra/: a pull subscription keeps a copy of every dead letter (for `npm run redrive`).
  await ensureSubscription(deadLetterTopic, names.deadLetterAuditSubscription, { ackDeadlineSeconds: AUDIT_ACK_DEADLINE_SECONDS });
  // Messages that wait (Retry-After, a host backing off, a re-queue after our outage) go to the same
  // recorder, which answers "not yet" until their time: nacks of this subscription, paced by its own
  // backoff, never of the scraper's. Its dead letters (after 100 deliveries) reach the recorder too,
  // which still treats them as waiting messages.
  const delayTopic = await ensureTopic(opts.pubsub, names.delayTopic);
  await ensureSubscription(delayTopic, names.delaySubscription, {
    pushConfig: pushConfig('deadLetter'),
    ackDeadlineSeconds: topology.recorderTimeoutSeconds + 10,
    retryPolicy: retryPolicyOf(opts.delayBackoff ?? topology.delayBackoff.local),
    deadLetterPolicy: { deadLetterTopic: deadLetterTopic.name, maxDeliveryAttempts: topology.delayMaxDeliveryAttempts },
  });
  return names;
}
