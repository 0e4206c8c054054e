/**
 * The article queue on Pub/Sub: topic, push subscription to the scraper with retries and
 * dead-lettering, the dead-letter topic and its push subscription to the recorder, and every IAM
 * binding that wiring needs to actually work.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { topology, type RetryBackoff } from '../functions/src/topology';
import type { ComponentOptions, FunctionService } from './function';

/** Resource names of the queue (see functions/src/topology.ts). */
export interface QueueNames {
  topic: string;
  deadLetterTopic: string;
  pushSubscription: string;
  deadLetterSubscription: string;
  /** Pull subscription on the dead-letter topic that operators read; nothing consumes it. */
  deadLetterAuditSubscription: string;
  /** Topic of messages that wait (Retry-After, a host backing off, a re-queue after our outage). */
  delayTopic: string;
  /** Push subscription on the delay topic to the recorder, which answers "not yet" until their time. */
  delaySubscription: string;
}

export interface ArticleQueueArgs {
  project: string;
  /** Project number, which names the Pub/Sub service agent. */
  projectNumber: pulumi.Input<string>;
  names: QueueNames;
  maxDeliveryAttempts: number;
  backoff: RetryBackoff;
  /** Backoff of the delay subscription: how often a waiting message is offered again (topology.delayBackoff). */
  delayBackoff: RetryBackoff;
  ackDeadlineSeconds: number;
  /** Push endpoint of the topic's subscription. */
  scraper: FunctionService;
  /** Push endpoint of the dead-letter topic's subscription. */
  recorder: FunctionService;
  /** Members allowed to publish to the topic. */
  publishers: pulumi.Input<string>[];
}

/** Service account id of the identity Pub/Sub signs push requests as. */
export const PUSH_ACCOUNT_ID = 'pubsub-push';

/** How long undelivered messages are kept: the maximum, so an outage of the functions loses nothing. */
const RETENTION = '604800s';

/** The Google-managed identity Pub/Sub uses for dead-lettering and for minting push tokens. */
export function pubsubServiceAgent(projectNumber: string): string {
  return `serviceAccount:service-${projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;
}

function seconds(value: number): string {
  return `${value}s`;
}

export class ArticleQueue extends pulumi.ComponentResource {
  readonly topic: gcp.pubsub.Topic;
  readonly deadLetterTopic: gcp.pubsub.Topic;
  readonly pushSubscription: gcp.pubsub.Subscription;
  readonly deadLetterSubscription: gcp.pubsub.Subscription;
  readonly deadLetterAuditSubscription: gcp.pubsub.Subscription;
  readonly delayTopic: gcp.pubsub.Topic;
  readonly delaySubscription: gcp.pubsub.Subscription;
  /** The identity in the OIDC token of every push request. */
  readonly pushServiceAccount: gcp.serviceaccount.Account;

  constructor(name: string, args: ArticleQueueArgs, opts: ComponentOptions = {}) {
    super('portfolio:queue:ArticleQueue', name, {}, opts);
    const child = { parent: this, dependsOn: opts.dependsOn };
    const { project, names } = args;

    this.topic = new gcp.pubsub.Topic(`${name}-topic`, { project, name: names.topic }, child);
    this.deadLetterTopic = new gcp.pubsub.Topic(`${name}-dead-letter-topic`, { project, name: names.deadLetterTopic }, child);

    for (const [index, member] of args.publishers.entries()) {
      new gcp.pubsub.TopicIAMMember(
        `${name}-publisher-${index}`,
        { project, topic: this.topic.name, role: 'roles/pubsub.publisher', member },
        child,
      );
    }

    this.pushServiceAccount = new gcp.serviceaccount.Account(
      `${name}-push-identity`,
      { project, accountId: PUSH_ACCOUNT_ID, displayName: 'Pub/Sub push to the article functions' },
      child,
    );
    const pushMember = pulumi.interpolate`serviceAccount:${this.pushServiceAccount.email}`;
    const invokers = [
      args.scraper.grantInvoker(`${name}-push-invokes-scraper`, pushMember, this),
      args.recorder.grantInvoker(`${name}-push-invokes-recorder`, pushMember, this),
    ];

    const serviceAgent = pulumi.output(args.projectNumber).apply(pubsubServiceAgent);
    // Projects created before April 2021 need this for Pub/Sub to mint the push tokens; it is
    // scoped to the push identity alone.
    const tokenCreator = new gcp.serviceaccount.IAMMember(
      `${name}-agent-signs-push-tokens`,
      { serviceAccountId: this.pushServiceAccount.name, role: 'roles/iam.serviceAccountTokenCreator', member: serviceAgent },
      child,
    );

    const pushAuth = (target: FunctionService) => ({
      pushEndpoint: target.pushUrl,
      oidcToken: { serviceAccountEmail: this.pushServiceAccount.email, audience: target.pushUrl },
    });
    const retryPolicy = {
      minimumBackoff: seconds(args.backoff.minimumBackoffSeconds),
      maximumBackoff: seconds(args.backoff.maximumBackoffSeconds),
    };
    // An empty ttl means "never expire": a quiet week must not delete the subscription.
    const neverExpire = { ttl: '' };
    // Deliveries start only once the push identity may invoke and sign, so the first messages are
    // not spent on 403s.
    const pushReady = [...(opts.dependsOn ?? []), ...invokers, tokenCreator];

    this.pushSubscription = new gcp.pubsub.Subscription(
      `${name}-push-subscription`,
      {
        project,
        name: names.pushSubscription,
        topic: this.topic.id,
        ackDeadlineSeconds: args.ackDeadlineSeconds,
        messageRetentionDuration: RETENTION,
        expirationPolicy: neverExpire,
        pushConfig: pushAuth(args.scraper),
        retryPolicy,
        deadLetterPolicy: { deadLetterTopic: this.deadLetterTopic.id, maxDeliveryAttempts: args.maxDeliveryAttempts },
      },
      { parent: this, dependsOn: pushReady },
    );

    // Without these two bindings Pub/Sub cannot forward a message to the dead-letter topic nor
    // acknowledge it on the source subscription, and dead-lettering silently does nothing.
    new gcp.pubsub.TopicIAMMember(
      `${name}-agent-publishes-dead-letters`,
      { project, topic: this.deadLetterTopic.name, role: 'roles/pubsub.publisher', member: serviceAgent },
      child,
    );
    new gcp.pubsub.SubscriptionIAMMember(
      `${name}-agent-acks-dead-letters`,
      { project, subscription: this.pushSubscription.name, role: 'roles/pubsub.subscriber', member: serviceAgent },
      child,
    );

    this.deadLetterSubscription = new gcp.pubsub.Subscription(
      `${name}-dead-letter-subscription`,
      {
        project,
        name: names.deadLetterSubscription,
        topic: this.deadLetterTopic.id,
        ackDeadlineSeconds: args.ackDeadlineSeconds,
        messageRetentionDuration: RETENTION,
        expirationPolicy: neverExpire,
        pushConfig: pushAuth(args.recorder),
        retryPolicy,
      },
      { parent: this, dependsOn: pushReady },
    );

    // The recorder acknowledges what it records, so the push subscription keeps nothing; this
    // pull subscription keeps a copy of every dead letter for a week, for an operator to read.
    this.deadLetterAuditSubscription = new gcp.pubsub.Subscription(
      `${name}-dead-letter-audit`,
      {
        project,
        name: names.deadLetterAuditSubscription,
        topic: this.deadLetterTopic.id,
        ackDeadlineSeconds: 60,
        messageRetentionDuration: RETENTION,
        expirationPolicy: neverExpire,
      },
      child,
    );

    // Messages that must wait are parked on the delay topic (by the scraper, and by the recorder for a
    // dead letter our own outage caused); the recorder publishes them to the article topic again when
    // their time comes. No dead-letter policy: a wait must never end in a dead letter.
    this.delayTopic = new gcp.pubsub.Topic(`${name}-delay-topic`, { project, name: names.delayTopic }, child);
    for (const [role, member] of [['scraper', args.scraper.serviceAccountMember], ['recorder', args.recorder.serviceAccountMember]] as const) {
      new gcp.pubsub.TopicIAMMember(`${name}-${role}-publishes-delayed`, { project, topic: this.delayTopic.name, role: 'roles/pubsub.publisher', member }, child);
    }
    new gcp.pubsub.TopicIAMMember(`${name}-recorder-publishes-again`, { project, topic: this.topic.name, role: 'roles/pubsub.publisher', member: args.recorder.serviceAccountMember }, child);
    this.delaySubscription = new gcp.pubsub.Subscription(
      `${name}-delay-subscription`,
      {
        project,
        name: names.delaySubscription,
        topic: this.delayTopic.id,
        ackDeadlineSeconds: args.ackDeadlineSeconds,
        messageRetentionDuration: RETENTION,
        expirationPolicy: neverExpire,
        pushConfig: pushAuth(args.recorder),
        retryPolicy: {
          minimumBackoff: seconds(args.delayBackoff.minimumBackoffSeconds),
          maximumBackoff: seconds(args.delayBackoff.maximumBackoffSeconds),
        },
        // A safety net only: the recorder treats a waiting message that reaches it as a dead letter
        // as still waiting.
        deadLetterPolicy: { deadLetterTopic: this.deadLetterTopic.id, maxDeliveryAttempts: topology.delayMaxDeliveryAttempts },
      },
      { parent: this, dependsOn: pushReady },
    );
    new gcp.pubsub.SubscriptionIAMMember(
      `${name}-agent-acks-delayed-dead-letters`,
      { project, subscription: this.delaySubscription.name, role: 'roles/pubsub.subscriber', member: serviceAgent },
      child,
    );

    this.registerOutputs({
      topic: this.topic.name,
      deadLetterTopic: this.deadLetterTopic.name,
      pushSubscription: this.pushSubscription.name,
      deadLetterSubscription: this.deadLetterSubscription.name,
      deadLetterAuditSubscription: this.deadLetterAuditSubscription.name,
      delayTopic: this.delayTopic.name,
      delaySubscription: this.delaySubscription.name,
      pushServiceAccount: this.pushServiceAccount.email,
    });
  }
}
