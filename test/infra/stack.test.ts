import assert from 'node:assert/strict';
import { parseConfig } from '../../functions/src/config';
import { topology } from '../../functions/src/topology';
import type { CapturedResource } from '../../infra/policies';
import { FakeBuild, ofType, PROJECT, PROJECT_NUMBER, REGION, runEntryPoint, runStack, type StackRun } from './mocks';

const FUNCTION = 'gcp:cloudfunctionsv2/function:Function';
const SUBSCRIPTION = 'gcp:pubsub/subscription:Subscription';
const RUN_INVOKER = 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember';
const AGENT = `serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`;

type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function props(resource: CapturedResource | undefined): Props {
  assert.ok(resource, 'resource not declared');
  return resource.properties as Props;
}

function byName(run: StackRun, type: string, name: string): Props {
  return props(ofType(run, type).find((resource) => resource.properties.name === name));
}

function fn(run: StackRun, entryPoint: string): Props {
  return props(ofType(run, FUNCTION).find((resource) => (resource.properties as Props).buildConfig?.entryPoint === entryPoint));
}

function invokersOf(run: StackRun, fnProps: Props): string[] {
  return ofType(run, RUN_INVOKER)
    .map(props)
    .filter((binding) => binding.name === fnProps.serviceConfig.service && binding.role === 'roles/run.invoker')
    .map((binding) => binding.member as string);
}

/** The deterministic run.app URL of a function (what its subscriptions push to and sign for). */
function pushUrl(fnProps: Props): string {
  return `https://${fnProps.name}-${PROJECT_NUMBER}.${REGION}.run.app`;
}

function membersWith(run: StackRun, type: string, match: (p: Props) => boolean): string[] {
  return ofType(run, type).map(props).filter(match).map((p) => p.member as string);
}

describe('infra: the Pulumi program under mocks', () => {
  let build: FakeBuild;
  let run: StackRun;

  before(async () => {
    build = new FakeBuild();
    run = await runStack(build);
  });
  after(() => build.remove());

  it('pushes article messages to the scraper URL, signed for that URL as the push service account', () => {
    const subscription = byName(run, SUBSCRIPTION, topology.pushSubscription);
    const scraper = fn(run, 'scrapeArticle');
    assert.equal(subscription.topic, `projects/${PROJECT}/topics/${topology.topic}`);
    assert.equal(subscription.pushConfig.pushEndpoint, pushUrl(scraper));
    assert.equal(subscription.pushConfig.oidcToken.audience, pushUrl(scraper));
    const pushAccount = subscription.pushConfig.oidcToken.serviceAccountEmail as string;
    assert.equal(pushAccount, `pubsub-push@${PROJECT}.iam.gserviceaccount.com`);
    assert.deepEqual(invokersOf(run, scraper), [`serviceAccount:${pushAccount}`]);
  });

  it('parks messages that must wait on the delay topic, pushed to the recorder with a backoff of its own', () => {
    const subscription = byName(run, SUBSCRIPTION, topology.delaySubscription);
    const recorder = fn(run, 'recordDeadLetter');
    assert.equal(subscription.topic, `projects/${PROJECT}/topics/${topology.delayTopic}`);
    assert.equal(subscription.pushConfig.pushEndpoint, pushUrl(recorder));
    assert.equal(subscription.pushConfig.oidcToken.audience, pushUrl(recorder));
    assert.deepEqual(subscription.retryPolicy, {
      minimumBackoff: `${topology.delayBackoff.production.minimumBackoffSeconds}s`,
      maximumBackoff: `${topology.delayBackoff.production.maximumBackoffSeconds}s`,
    });
    assert.equal(subscription.deadLetterPolicy.maxDeliveryAttempts, topology.delayMaxDeliveryAttempts);
  });

  it('pushes dead letters to the recorder the same way, and keeps a readable copy', () => {
    const subscription = byName(run, SUBSCRIPTION, topology.deadLetterSubscription);
    const recorder = fn(run, 'recordDeadLetter');
    assert.equal(subscription.topic, `projects/${PROJECT}/topics/${topology.deadLetterTopic}`);
    assert.equal(subscription.pushConfig.pushEndpoint, pushUrl(recorder));
    assert.equal(subscription.pushConfig.oidcToken.audience, pushUrl(recorder));
    assert.equal(subscription.deadLetterPolicy, undefined);
    assert.deepEqual(invokersOf(run, recorder), [`serviceAccount:pubsub-push@${PROJECT}.iam.gserviceaccount.com`]);
    const audit = byName(run, SUBSCRIPTION, `${topology.deadLetterTopic}-audit`);
    assert.equal(audit.topic, subscription.topic);
    assert.equal(audit.pushConfig, undefined);
  });

  it('takes attempts, backoff and ack deadline from the topology by default', () => {
    const subscription = byName(run, SUBSCRIPTION, topology.pushSubscription);
    assert.deepEqual(subscription.deadLetterPolicy, {
      deadLetterTopic: `projects/${PROJECT}/topics/${topology.deadLetterTopic}`,
      maxDeliveryAttempts: topology.maxDeliveryAttempts,
    });
    assert.deepEqual(subscription.retryPolicy, {
      minimumBackoff: `${topology.productionBackoff.minimumBackoffSeconds}s`,
      maximumBackoff: `${topology.productionBackoff.maximumBackoffSeconds}s`,
    });
    assert.equal(subscription.ackDeadlineSeconds, topology.ackDeadlineSeconds);
  });

  it('carries configured attempts, backoff and ack deadline into the subscription', async () => {
    const custom = await runStack(build, {
      maxDeliveryAttempts: '12',
      minimumBackoffSeconds: '30',
      maximumBackoffSeconds: '120',
      ackDeadlineSeconds: '300',
      scraperTimeoutSeconds: '240',
    });
    const subscription = byName(custom, SUBSCRIPTION, topology.pushSubscription);
    assert.equal(subscription.deadLetterPolicy.maxDeliveryAttempts, 12);
    assert.deepEqual(subscription.retryPolicy, { minimumBackoff: '30s', maximumBackoff: '120s' });
    assert.equal(subscription.ackDeadlineSeconds, 300);
    assert.equal(fn(custom, 'scrapeArticle').serviceConfig.timeoutSeconds, 240);
  });

  it('lets the Pub/Sub service agent publish dead letters and acknowledge them on the push subscription', () => {
    assert.deepEqual(
      membersWith(run, 'gcp:pubsub/topicIAMMember:TopicIAMMember', (p) => p.topic === topology.deadLetterTopic && p.role === 'roles/pubsub.publisher'),
      [AGENT],
    );
    assert.deepEqual(
      membersWith(
        run,
        'gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember',
        (p) => p.subscription === topology.pushSubscription && p.role === 'roles/pubsub.subscriber',
      ),
      [AGENT],
    );
  });

  it('waits longer for an acknowledgement than the scraper may run', () => {
    const subscription = byName(run, SUBSCRIPTION, topology.pushSubscription);
    assert.ok(subscription.ackDeadlineSeconds > fn(run, 'scrapeArticle').serviceConfig.timeoutSeconds);
    const deadLetters = byName(run, SUBSCRIPTION, topology.deadLetterSubscription);
    assert.ok(deadLetters.ackDeadlineSeconds > fn(run, 'recordDeadLetter').serviceConfig.timeoutSeconds);
  });

  it('runs every function on nodejs22 as a service account of its own', () => {
    const functions = ofType(run, FUNCTION).map(props);
    assert.deepEqual(functions.map((f) => f.buildConfig.entryPoint).sort(), ['api', 'recordDeadLetter', 'scrapeArticle']);
    for (const f of functions) assert.equal(f.buildConfig.runtime, 'nodejs22');
    const accounts = functions.map((f) => f.serviceConfig.serviceAccountEmail as string);
    assert.equal(new Set(accounts).size, 3);
    for (const account of accounts) assert.match(account, new RegExp(`@${PROJECT}\\.iam\\.gserviceaccount\\.com$`));
  });

  it('gives the API and the scraper (for feeds) publish on the topic, and every function Firestore use, and nothing more', () => {
    const member = (entryPoint: string) => `serviceAccount:${fn(run, entryPoint).serviceConfig.serviceAccountEmail}`;
    // The recorder publishes a message whose wait is over to the topic again.
    assert.deepEqual(
      membersWith(run, 'gcp:pubsub/topicIAMMember:TopicIAMMember', (p) => p.topic === topology.topic).sort(),
      [member('api'), member('scrapeArticle'), member('recordDeadLetter')].sort(),
    );
    // The scraper parks messages that must wait, the recorder re-queues dead letters of our own outage.
    assert.deepEqual(
      membersWith(run, 'gcp:pubsub/topicIAMMember:TopicIAMMember', (p) => p.topic === topology.delayTopic).sort(),
      [member('scrapeArticle'), member('recordDeadLetter')].sort(),
    );
    const projectRoles = ofType(run, 'gcp:projects/iAMMember:IAMMember').map(props);
    for (const entryPoint of ['api', 'scrapeArticle', 'recordDeadLetter']) {
      assert.deepEqual(
        projectRoles.filter((p) => p.member === member(entryPoint)).map((p) => p.role),
        ['roles/datastore.user'],
      );
    }
  });

  it('keeps the API private by default and opens it to allUsers only with publicApi', async () => {
    const everyMember = (r: StackRun) => r.resources.map((resource) => (resource.properties as Props).member);
    assert.ok(!everyMember(run).includes('allUsers'));
    assert.deepEqual(invokersOf(run, fn(run, 'api')), []);

    const invited = await runStack(build, { apiInvokers: '["user:ana@example.com"]' });
    assert.deepEqual(invokersOf(invited, fn(invited, 'api')), ['user:ana@example.com']);

    const open = await runStack(build, { publicApi: 'true' });
    assert.deepEqual(invokersOf(open, fn(open, 'api')), ['allUsers']);
    const publicBindings = open.resources.filter((resource) => (resource.properties as Props).member === 'allUsers');
    assert.equal(publicBindings.length, 1);
  });

  it('has each push function verify the tokens its subscriptions sign: its audience and the push account; the API gets its public URL', () => {
    for (const [entryPoint, subscriptions] of [
      ['scrapeArticle', [topology.pushSubscription]],
      ['recordDeadLetter', [topology.deadLetterSubscription, topology.delaySubscription]],
    ] as const) {
      const f = fn(run, entryPoint);
      const push = parseConfig(f.serviceConfig.environmentVariables).push;
      assert.ok(push, `${entryPoint} verifies pushes`);
      for (const name of subscriptions) {
        const oidcToken = byName(run, SUBSCRIPTION, name).pushConfig.oidcToken;
        assert.equal(push.audience, oidcToken.audience, name);
        assert.equal(push.serviceAccount, oidcToken.serviceAccountEmail, name);
      }
      assert.equal(push.jwksUrl, 'https://www.googleapis.com/oauth2/v3/certs');
    }
    const api = parseConfig(fn(run, 'api').serviceConfig.environmentVariables);
    assert.equal(api.push, null);
    assert.equal(api.api.publicBaseUrl, `https://${REGION}-${PROJECT}.cloudfunctions.net/${fn(run, 'api').name}`);
  });

  it('gives the functions the environment parseConfig reads, without the local-only network switch', async () => {
    const custom = await runStack(build, { freshnessWindowHours: '6' });
    for (const f of ofType(custom, FUNCTION).map(props)) {
      const env = f.serviceConfig.environmentVariables as Record<string, string>;
      assert.ok(!('ALLOW_PRIVATE_NETWORKS' in env));
      // Every instance preloads the code cache its archive's gcp-build wrote, from the app directory.
      assert.equal(env.NODE_OPTIONS, '--require=/workspace/compileCache.js');
      const config = parseConfig(env);
      assert.equal(config.projectId, PROJECT);
      assert.equal(config.topic, topology.topic);
      assert.equal(config.freshnessWindowMs, 6 * 3_600_000);
      assert.equal(config.fetch.allowPrivateNetworks, false);
    }
  });

  it('deploys each function from an archive of its own, whose name changes with that function\'s code only', async () => {
    const objects = ofType(run, 'gcp:storage/bucketObject:BucketObject').map(props);
    assert.equal(objects.length, 3);
    const objectOf = (entryPoint: string): string => fn(run, entryPoint).buildConfig.source.storageSource.object as string;
    for (const entryPoint of ['api', 'scrapeArticle', 'recordDeadLetter']) {
      assert.match(objectOf(entryPoint), new RegExp(`^${entryPoint}-[0-9a-f]{16}\\.zip$`));
      assert.ok(objects.some((object) => object.name === objectOf(entryPoint)));
    }

    const changed = new FakeBuild();
    try {
      changed.write('exports.ok = false;\n', 'scrapeArticle');
      const rebuilt = await runStack(changed);
      const rebuiltObject = (entryPoint: string): string => fn(rebuilt, entryPoint).buildConfig.source.storageSource.object as string;
      assert.notEqual(rebuiltObject('scrapeArticle'), objectOf('scrapeArticle'));
      assert.equal(rebuiltObject('api'), objectOf('api'));
      assert.equal(rebuiltObject('recordDeadLetter'), objectOf('recordDeadLetter'));
    } finally {
      changed.remove();
    }
  });

  it('deploys each function with the instances and concurrency of the capacity plan, and outputs the plan', () => {
    const sizing = (entryPoint: string) => {
      const config = fn(run, entryPoint).serviceConfig;
      return { maxInstances: config.maxInstanceCount, concurrency: config.maxInstanceRequestConcurrency };
    };
    const plan = run.outputs.capacity as Props;
    assert.deepEqual(sizing('api'), plan.api);
    assert.deepEqual(sizing('scrapeArticle'), plan.scraper);
    assert.deepEqual(sizing('recordDeadLetter'), plan.recorder);
    assert.equal(plan.sums.deliveriesInFlight, plan.scraper.maxInstances * plan.scraper.concurrency);
    assert.deepEqual(plan.recorder, { maxInstances: 2, concurrency: 16 });
  });

  it('creates the Pub/Sub service agent before binding it, so a first deploy on a new project needs nothing made by hand', () => {
    const identities = ofType(run, 'gcp:projects/serviceIdentity:ServiceIdentity').map(props);
    assert.deepEqual(identities.map((identity) => identity.service), ['pubsub.googleapis.com']);
    const binding = ofType(run, 'gcp:pubsub/topicIAMMember:TopicIAMMember').find((resource) => (resource.properties as Props).member === AGENT);
    assert.ok(binding?.dependsOn?.includes('gcp:projects/serviceIdentity:ServiceIdentity::pubsub-service-agent'), JSON.stringify(binding?.dependsOn));
  });

  it('creates a native-mode Firestore database and enables the APIs it uses', () => {
    const database = props(ofType(run, 'gcp:firestore/database:Database')[0]);
    assert.equal(database.type, 'FIRESTORE_NATIVE');
    assert.equal(database.name, '(default)');
    const services = ofType(run, 'gcp:projects/service:Service').map((s) => (s.properties as Props).service as string);
    for (const service of ['cloudfunctions.googleapis.com', 'run.googleapis.com', 'pubsub.googleapis.com', 'firestore.googleapis.com']) {
      assert.ok(services.includes(service), `${service} not enabled`);
    }
  });

  it('outputs the API URL and the queue names', () => {
    assert.equal(run.outputs.apiUrl, fn(run, 'api').serviceConfig.uri);
    assert.equal(run.outputs.topicName, topology.topic);
    assert.equal(run.outputs.pushSubscriptionName, topology.pushSubscription);
    assert.equal(run.outputs.deadLetterTopicName, topology.deadLetterTopic);
    assert.equal(run.outputs.deadLetterSubscriptionName, topology.deadLetterSubscription);
  });

  it('exports the outputs from the entry point pulumi runs', async () => {
    const outputs = await runEntryPoint(build);
    assert.deepEqual(outputs, run.outputs);
  });

  it('refuses to run with a bad setting or without a build, naming what to fix', async () => {
    await assert.rejects(runStack(build, { maxDeliveryAttempts: '200' }), { code: 'invalid-config', key: 'maxDeliveryAttempts' });
    await assert.rejects(runStack(build, { 'gcp:project': '' }), { code: 'invalid-config', key: 'gcp:project' });
    const empty = new FakeBuild();
    empty.remove();
    await assert.rejects(runStack(empty), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'missing-build');
      assert.match(error.message, /npm run build/);
      return true;
    });
  });
});
