import assert from 'node:assert/strict';
import { topology } from '../../functions/src/topology';
import { checkPolicies, type CapturedResource } from '../../infra/policies';
import { FakeBuild, runStack } from './mocks';

type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Mutation = (resources: CapturedResource[]) => CapturedResource[];

const FUNCTION = 'gcp:cloudfunctionsv2/function:Function';
const SUBSCRIPTION = 'gcp:pubsub/subscription:Subscription';

function find(resources: CapturedResource[], match: (resource: CapturedResource, p: Props) => boolean): Props {
  const found = resources.find((resource) => match(resource, resource.properties as Props));
  assert.ok(found, 'no such resource in the program');
  return found.properties as Props;
}

const fn = (entryPoint: string) => (resources: CapturedResource[]) =>
  find(resources, (r, p) => r.type === FUNCTION && p.buildConfig.entryPoint === entryPoint);
const subscription = (name: string) => (resources: CapturedResource[]) =>
  find(resources, (r, p) => r.type === SUBSCRIPTION && p.name === name);
const scraper = fn('scrapeArticle');
const pushSubscription = subscription(topology.pushSubscription);

/** A resource added by hand, created (like everything else) after the APIs are enabled. */
function added(r: CapturedResource[], type: string, properties: Props): CapturedResource[] {
  const services = r.filter((resource) => resource.type === 'gcp:projects/service:Service').map((resource) => `${resource.type}::${resource.name}`);
  return [...r, { type, name: 'added', properties, dependsOn: services }];
}

function without(match: (resource: CapturedResource, p: Props) => boolean): Mutation {
  return (resources) => resources.filter((resource) => !match(resource, resource.properties as Props));
}

function editing(edit: (resources: CapturedResource[]) => void): Mutation {
  return (resources) => {
    edit(resources);
    return resources;
  };
}

/** Deliberately broken variants of a good configuration, each with the rule it must trip. */
const brokenConfigurations: Array<[string, Mutation, string]> = [
  ['a function on an older runtime', editing((r) => (scraper(r).buildConfig.runtime = 'nodejs20')), 'function-runtime'],
  [
    'two functions sharing an identity',
    editing((r) => (scraper(r).serviceConfig.serviceAccountEmail = fn('api')(r).serviceConfig.serviceAccountEmail)),
    'function-identity',
  ],
  ['a function on the default compute identity', editing((r) => (scraper(r).serviceConfig.serviceAccountEmail = '42-compute@developer.gserviceaccount.com')), 'function-identity'],
  ['the local network switch deployed', editing((r) => (scraper(r).serviceConfig.environmentVariables.ALLOW_PRIVATE_NETWORKS = 'true')), 'no-private-networks'],
  [
    'a public scraper',
    (r) => added(r, 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember', { name: scraper(r).serviceConfig.service, role: 'roles/run.invoker', member: 'allUsers' }),
    'no-public-access',
  ],
  [
    'an editor on the project',
    (r) => added(r, 'gcp:projects/iAMMember:IAMMember', { role: 'roles/editor', member: 'user:x@example.com' }),
    'least-privilege',
  ],
  ['unauthenticated push', editing((r) => delete pushSubscription(r).pushConfig.oidcToken), 'push-authenticated'],
  ['a token for the wrong audience', editing((r) => (pushSubscription(r).pushConfig.oidcToken.audience = 'https://example.com')), 'push-authenticated'],
  [
    'a push identity that may not invoke the scraper',
    without((r, p) => r.type === 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember' && p.name === 'projects/portfolio-prod-1/locations/europe-west1/services/article-scraper'),
    'push-authenticated',
  ],
  ['an ack deadline as short as the scraper timeout', editing((r) => (pushSubscription(r).ackDeadlineSeconds = scraper(r).serviceConfig.timeoutSeconds)), 'ack-deadline'],
  ['no dead-letter policy', editing((r) => delete pushSubscription(r).deadLetterPolicy), 'dead-letter'],
  ['200 delivery attempts', editing((r) => (pushSubscription(r).deadLetterPolicy.maxDeliveryAttempts = 200)), 'dead-letter'],
  ['no retry backoff', editing((r) => delete pushSubscription(r).retryPolicy), 'retry-backoff'],
  [
    'no service agent publisher on the dead-letter topic',
    without((r, p) => r.type === 'gcp:pubsub/topicIAMMember:TopicIAMMember' && p.topic === topology.deadLetterTopic),
    'dead-letter-permissions',
  ],
  [
    'no service agent subscriber on the push subscription',
    without((r) => r.type === 'gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember'),
    'dead-letter-permissions',
  ],
  ['nothing pushing dead letters to the recorder', without((r, p) => r.type === SUBSCRIPTION && p.name === topology.deadLetterSubscription), 'dead-letter-consumed'],
  [
    'a database created before Firestore is enabled',
    editing((r) => (r.find((resource) => resource.type === 'gcp:firestore/database:Database')!.dependsOn = [])),
    'apis-first',
  ],
];

describe('infra: policies', () => {
  let build: FakeBuild;
  let privateRun: CapturedResource[];
  let publicRun: CapturedResource[];

  before(async () => {
    build = new FakeBuild();
    privateRun = (await runStack(build)).resources;
    publicRun = (await runStack(build, { publicApi: 'true' })).resources;
  });
  after(() => build.remove());

  it('finds nothing wrong with the program as configured', () => {
    assert.deepEqual(checkPolicies(privateRun, { allowPublicApi: false }), []);
    assert.deepEqual(checkPolicies(publicRun, { allowPublicApi: true }), []);
  });

  it('flags a public API when the API is not meant to be public', () => {
    const violations = checkPolicies(publicRun, { allowPublicApi: false });
    assert.deepEqual(
      violations.map((v) => v.policy),
      ['no-public-access'],
    );
  });

  for (const [what, mutate, policy] of brokenConfigurations) {
    it(`flags ${what} (${policy})`, () => {
      const broken = mutate(structuredClone(privateRun));
      const violations = checkPolicies(broken, { allowPublicApi: true });
      assert.deepEqual([...new Set(violations.map((v) => v.policy))], [policy], JSON.stringify(violations, null, 2));
      for (const violation of violations) assert.ok(violation.message.length > 20 && violation.resource.includes('::'));
    });
  }
});
