/**
 * The whole deployment: enabled APIs, Firestore, the source archives, the three functions with
 * their identities, and the queue that connects them. `infra/index.ts` runs it under `pulumi up`;
 * the tests run it under mocks with different configurations.
 */
import * as path from 'node:path';
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { topology } from '../functions/src/topology';
import type { CapacityPlan } from './capacity';
import { FunctionService } from './function';
import { Monitoring } from './monitoring';
import { ArticleQueue, PUSH_ACCOUNT_ID, type QueueNames } from './queue';
import { readSettings, type InfraSettings } from './settings';
import type { EntryPoint } from './function';
import { ENTRY_POINTS, prepareSource } from './source';

/** Google APIs the stack uses; enabled before anything else is created. */
export const REQUIRED_SERVICES = [
  'artifactregistry.googleapis.com',
  'cloudbuild.googleapis.com',
  'cloudfunctions.googleapis.com',
  'firestore.googleapis.com',
  'iam.googleapis.com',
  'logging.googleapis.com',
  'monitoring.googleapis.com',
  'pubsub.googleapis.com',
  'run.googleapis.com',
  'storage.googleapis.com',
] as const;

/** Names every resource of the queue, from the topology the local stack uses too. */
export const queueNames: QueueNames = {
  topic: topology.topic,
  deadLetterTopic: topology.deadLetterTopic,
  pushSubscription: topology.pushSubscription,
  deadLetterSubscription: topology.deadLetterSubscription,
  deadLetterAuditSubscription: `${topology.deadLetterTopic}-audit`,
  delayTopic: topology.delayTopic,
  delaySubscription: topology.delaySubscription,
};

/** Function names on Google Cloud (also their Cloud Run service names). */
export const functionNames = {
  api: 'portfolio-api',
  scraper: 'article-scraper',
  recorder: 'dead-letter-recorder',
} as const;

/** What `pulumi up` prints and `pulumi stack output` returns. */
export interface StackOutputs {
  apiUrl: pulumi.Output<string>;
  scraperUrl: pulumi.Output<string>;
  recorderUrl: pulumi.Output<string>;
  topicName: pulumi.Output<string>;
  deadLetterTopicName: pulumi.Output<string>;
  pushSubscriptionName: pulumi.Output<string>;
  deadLetterSubscriptionName: pulumi.Output<string>;
  deadLetterAuditSubscriptionName: pulumi.Output<string>;
  /** The sizes deployed and what they imply (infra/capacity.ts). */
  capacity: pulumi.Output<CapacityPlan>;
  /** Cloud Monitoring dashboard (`projects/…/dashboards/…`). */
  dashboardId: pulumi.Output<string>;
}

const REPO_ROOT = path.resolve(__dirname, '..');

/** Settings from `pulumi config` (the program's keys and the gcp provider's). */
export function settingsFromPulumiConfig(): InfraSettings {
  const app = new pulumi.Config();
  const provider = new pulumi.Config('gcp');
  return readSettings({ app: (key) => app.get(key), gcp: (key) => provider.get(key) });
}

/** Declares every resource. Throws `InfraError` before declaring anything if the config or build is unusable. */
export function deployStack(settings: InfraSettings = settingsFromPulumiConfig()): StackOutputs {
  const sources = Object.fromEntries(ENTRY_POINTS.map((entryPoint) => [entryPoint, prepareSource(REPO_ROOT, settings.sourceDir, entryPoint)]));
  const { project, region } = settings;

  const services = REQUIRED_SERVICES.map(
    (service) =>
      new gcp.projects.Service(`api-${service.split('.')[0]}`, {
        project,
        service,
        // Other things in the project may use these APIs; destroying this stack must not break them.
        disableOnDestroy: false,
      }),
  );
  const afterServices = { dependsOn: services };

  const projectNumber = gcp.organizations.getProjectOutput({ projectId: project }).apply((found) => found.number);

  // The functions use the "(default)" database. Abandoned on destroy: it holds the portfolios.
  const database = new gcp.firestore.Database(
    'firestore',
    { project, name: '(default)', locationId: settings.firestoreLocation, type: 'FIRESTORE_NATIVE', deletionPolicy: 'ABANDON' },
    afterServices,
  );

  const bucket = new gcp.storage.Bucket(
    'function-sources',
    {
      project,
      name: `${project}-function-sources`,
      location: region,
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      forceDestroy: true,
    },
    afterServices,
  );
  // One archive per function: each carries only its own bundle, and a change to one function's
  // code redeploys that function alone.
  const archives = Object.fromEntries(
    ENTRY_POINTS.map((entryPoint) => [
      entryPoint,
      new gcp.storage.BucketObject(`function-source-${entryPoint}`, { bucket: bucket.name, name: sources[entryPoint]!.objectName, source: sources[entryPoint]!.archive }),
    ]),
  );
  const sourceOf = (entryPoint: EntryPoint) => ({ bucket: bucket.name, object: archives[entryPoint]!.name });

  // Builds run as this account rather than the Compute Engine default account, which new
  // projects no longer grant the roles a build needs.
  const builder = new gcp.serviceaccount.Account(
    'functions-builder',
    { project, accountId: 'functions-builder', displayName: 'Builds the functions' },
    afterServices,
  );
  const builderRole = new gcp.projects.IAMMember('functions-builder-role', {
    project,
    role: 'roles/cloudbuild.builds.builder',
    member: pulumi.interpolate`serviceAccount:${builder.email}`,
  });

  const common = {
    project,
    region,
    buildServiceAccount: builder.name,
    environment: settings.functionEnv,
  };
  const functionDeps = { dependsOn: [...services, database, builderRole] };

  // A push function checks that a token's audience is its own URL (functions/src/auth/), and its
  // subscriptions sign for that URL: taken from the function's own output, its environment would
  // depend on the function itself. Cloud Run's deterministic URL,
  // https://SERVICE-PROJECT_NUMBER.REGION.run.app (a 2nd gen function's service has the function's
  // name), is known before either exists and serves the same service, so it is the push endpoint,
  // the tokens' audience and PUSH_AUDIENCE at once. The push account's email is as fixed.
  const pushUrlOf = (functionName: string): pulumi.Output<string> => pulumi.interpolate`https://${functionName}-${projectNumber}.${region}.run.app`;
  const pushEnvironment = (functionName: string): Record<string, pulumi.Input<string>> => ({
    ...settings.functionEnv,
    PUSH_AUDIENCE: pushUrlOf(functionName),
    PUSH_SERVICE_ACCOUNT: `${PUSH_ACCOUNT_ID}@${project}.iam.gserviceaccount.com`,
  });

  const api = new FunctionService(
    'api',
    {
      ...common,
      functionName: functionNames.api,
      entryPoint: 'api',
      sizing: { memory: settings.memory, ...settings.capacity.api },
      source: sourceOf('api'),
      // The API's own URL (2nd gen functions keep this form), so a 202's statusUrl is absolute without trusting Host headers.
      environment: { ...settings.functionEnv, PUBLIC_BASE_URL: `https://${region}-${project}.cloudfunctions.net/${functionNames.api}` },
      description: 'Accepts article URLs and queues one message per URL',
      accountId: 'portfolio-api',
      timeoutSeconds: settings.timeouts.api,
      projectRoles: ['roles/datastore.user'],
      invokers: settings.publicApi ? ['allUsers', ...settings.apiInvokers] : settings.apiInvokers,
    },
    functionDeps,
  );
  const scraper = new FunctionService(
    'scraper',
    {
      ...common,
      functionName: functionNames.scraper,
      entryPoint: 'scrapeArticle',
      sizing: { memory: settings.memory, ...settings.capacity.scraper },
      source: sourceOf('scrapeArticle'),
      environment: pushEnvironment(functionNames.scraper),
      pushUrl: pushUrlOf(functionNames.scraper),
      description: 'Fetches one article and stores what it extracts',
      accountId: 'article-scraper',
      timeoutSeconds: settings.timeouts.scraper,
      projectRoles: ['roles/datastore.user'],
    },
    functionDeps,
  );
  const recorder = new FunctionService(
    'recorder',
    {
      ...common,
      functionName: functionNames.recorder,
      entryPoint: 'recordDeadLetter',
      sizing: { memory: settings.memory, ...settings.capacity.recorder },
      source: sourceOf('recordDeadLetter'),
      environment: pushEnvironment(functionNames.recorder),
      pushUrl: pushUrlOf(functionNames.recorder),
      description: 'Marks dead-lettered articles as failed',
      accountId: 'dead-letter-recorder',
      timeoutSeconds: settings.timeouts.recorder,
      projectRoles: ['roles/datastore.user'],
    },
    functionDeps,
  );

  // Pub/Sub's service agent forwards dead letters and signs push tokens; on a new project it may
  // not exist until some time after the API is enabled. Asking for it creates it now, so the
  // queue's bindings to it never fail on the first `pulumi up`.
  const pubsubAgent = new gcp.projects.ServiceIdentity('pubsub-service-agent', { project, service: 'pubsub.googleapis.com' }, afterServices);

  const queue = new ArticleQueue(
    'queue',
    {
      project,
      projectNumber,
      names: queueNames,
      maxDeliveryAttempts: settings.maxDeliveryAttempts,
      backoff: settings.backoff,
      delayBackoff: topology.delayBackoff.production,
      ackDeadlineSeconds: settings.ackDeadlineSeconds,
      scraper,
      recorder,
      // The scraper publishes the articles a feed or sitemap yields (feeds/).
      publishers: [api.serviceAccountMember, scraper.serviceAccountMember],
    },
    { dependsOn: [...services, pubsubAgent] },
  );

  const monitoring = new Monitoring(
    'monitoring',
    {
      project,
      services: { api: functionNames.api, scraper: functionNames.scraper, recorder: functionNames.recorder },
      pushSubscription: queue.pushSubscription.name,
      ...settings.monitoring,
    },
    afterServices,
  );

  return {
    apiUrl: api.url,
    scraperUrl: scraper.url,
    recorderUrl: recorder.url,
    topicName: queue.topic.name,
    deadLetterTopicName: queue.deadLetterTopic.name,
    pushSubscriptionName: queue.pushSubscription.name,
    deadLetterSubscriptionName: queue.deadLetterSubscription.name,
    deadLetterAuditSubscriptionName: queue.deadLetterAuditSubscription.name,
    dashboardId: monitoring.dashboard.id,
    capacity: pulumi.output(settings.capacity),
  };
}
