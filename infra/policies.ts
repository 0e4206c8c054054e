/**
 * Policy checks over the resources a program run declares: plain functions over plain data, so the
 * same rules run on a mocked run in the tests and could run on `pulumi preview --json` output.
 * Each rule is a production promise that would fail silently if broken (a message that is never
 * dead-lettered, a push that is always rejected, a public scraper).
 */
import { RUNTIME } from './runtime';

/** One declared resource: its type token, logical name and properties (inputs plus known outputs). */
export interface CapturedResource {
  type: string;
  name: string;
  properties: Record<string, unknown>;
  /** Resources this one waits for, as `<type>::<name>`; absent when the capture has no graph. */
  dependsOn?: string[];
}

/** One broken rule. `policy` is stable; `message` says what to change. */
export interface PolicyViolation {
  policy: string;
  resource: string;
  message: string;
}

export interface PolicyOptions {
  /** Whether `allUsers` may invoke the API function (and only it). */
  allowPublicApi: boolean;
}

const FUNCTION = 'gcp:cloudfunctionsv2/function:Function';
const SUBSCRIPTION = 'gcp:pubsub/subscription:Subscription';
const TOPIC_MEMBER = 'gcp:pubsub/topicIAMMember:TopicIAMMember';
const SUBSCRIPTION_MEMBER = 'gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember';
const RUN_INVOKER = 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember';
const PROJECT_MEMBER = 'gcp:projects/iAMMember:IAMMember';
const SERVICE = 'gcp:projects/service:Service';

/** Project-wide roles the program may grant; anything broader is a finding. */
const ALLOWED_PROJECT_ROLES = new Set(['roles/datastore.user', 'roles/cloudbuild.builds.builder']);
const PUBLIC_MEMBERS = new Set(['allUsers', 'allAuthenticatedUsers']);
const PUBSUB_AGENT = /^serviceAccount:service-\d+@gcp-sa-pubsub\.iam\.gserviceaccount\.com$/;
const DEFAULT_ACCOUNTS = /-compute@developer\.gserviceaccount\.com$|@appspot\.gserviceaccount\.com$/;

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function text(value: unknown, ...path: string[]): string | undefined {
  const found = field(value, ...path);
  return typeof found === 'string' && found !== '' ? found : undefined;
}

/** `projects/p/topics/t` and `t` name the same topic (likewise subscriptions and services). */
function lastSegment(name: string | undefined): string | undefined {
  return name?.split('/').pop();
}

function ofType(resources: CapturedResource[], type: string): CapturedResource[] {
  return resources.filter((resource) => resource.type === type);
}

/** Runs every rule; an empty list means the configuration keeps all its promises. */
export function checkPolicies(resources: CapturedResource[], options: PolicyOptions): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  const report = (policy: string, resource: CapturedResource, message: string) =>
    violations.push({ policy, resource: `${resource.type}::${resource.name}`, message });

  const functions = ofType(resources, FUNCTION);
  const subscriptions = ofType(resources, SUBSCRIPTION);
  const runInvokers = ofType(resources, RUN_INVOKER);
  // A function is at its uri, or at the URL it verifies push tokens for (its deterministic run.app URL).
  const functionAt = (url: string | undefined) =>
    functions.find((fn) => url !== undefined && (text(fn.properties, 'serviceConfig', 'uri') === url || text(fn.properties, 'serviceConfig', 'environmentVariables', 'PUSH_AUDIENCE') === url));
  const serviceOf = (fn: CapturedResource) =>
    lastSegment(text(fn.properties, 'serviceConfig', 'service') ?? text(fn.properties, 'name'));

  // Functions: the deployed runtime, an identity of their own, production network rules.
  const accounts = new Map<string, string>();
  for (const fn of functions) {
    const runtime = text(fn.properties, 'buildConfig', 'runtime');
    if (runtime !== RUNTIME) report('function-runtime', fn, `runs ${runtime ?? 'no runtime'}; set buildConfig.runtime to ${RUNTIME}`);
    const account = text(fn.properties, 'serviceConfig', 'serviceAccountEmail');
    if (account === undefined || DEFAULT_ACCOUNTS.test(account)) {
      report('function-identity', fn, 'runs as a default service account; give it a service account of its own');
    } else if (accounts.has(account)) {
      report('function-identity', fn, `shares service account ${account} with ${accounts.get(account)}; give each function its own`);
    } else {
      accounts.set(account, fn.name);
    }
    const environment = field(fn.properties, 'serviceConfig', 'environmentVariables');
    if (environment !== null && typeof environment === 'object' && 'ALLOW_PRIVATE_NETWORKS' in environment) {
      report('no-private-networks', fn, 'sets ALLOW_PRIVATE_NETWORKS, a local-development switch that lets URLs reach internal addresses');
    }
  }

  // Nobody on the internet may call anything, except the API when it is meant to be public.
  const apiServices = new Set(functions.filter((fn) => text(fn.properties, 'buildConfig', 'entryPoint') === 'api').map(serviceOf));
  for (const resource of resources) {
    const members = [field(resource.properties, 'member'), ...((field(resource.properties, 'members') as unknown[]) ?? [])];
    if (!members.some((member) => typeof member === 'string' && PUBLIC_MEMBERS.has(member))) continue;
    const publicApiBinding =
      resource.type === RUN_INVOKER &&
      text(resource.properties, 'role') === 'roles/run.invoker' &&
      apiServices.has(lastSegment(text(resource.properties, 'name')));
    if (!(options.allowPublicApi && publicApiBinding)) {
      report('no-public-access', resource, 'grants access to everyone; only the API may be public, and only with publicApi set');
    }
  }

  for (const binding of ofType(resources, PROJECT_MEMBER)) {
    const role = text(binding.properties, 'role') ?? '';
    if (!ALLOWED_PROJECT_ROLES.has(role)) {
      report('least-privilege', binding, `grants ${role} on the whole project; grant a narrower role on the resource instead`);
    }
  }

  // Queue: every push is authenticated and allowed, retried, and dead-lettered where dead letters go.
  const deadLetterTopics = new Set(
    subscriptions.map((sub) => lastSegment(text(sub.properties, 'deadLetterPolicy', 'deadLetterTopic'))).filter((topic) => topic !== undefined),
  );
  const topicMembers = ofType(resources, TOPIC_MEMBER);
  const subscriptionMembers = ofType(resources, SUBSCRIPTION_MEMBER);

  for (const sub of subscriptions) {
    const topic = lastSegment(text(sub.properties, 'topic'));
    const endpoint = text(sub.properties, 'pushConfig', 'pushEndpoint');
    if (endpoint !== undefined) {
      const pushAccount = text(sub.properties, 'pushConfig', 'oidcToken', 'serviceAccountEmail');
      const audience = text(sub.properties, 'pushConfig', 'oidcToken', 'audience');
      const target = functionAt(endpoint);
      if (pushAccount === undefined) {
        report('push-authenticated', sub, 'pushes without an OIDC token; the function would have to accept anonymous calls');
      } else if (audience !== endpoint) {
        report('push-authenticated', sub, `token audience ${audience ?? '(none)'} differs from the endpoint ${endpoint}; the function rejects it`);
      } else if (
        target !== undefined &&
        !runInvokers.some(
          (binding) =>
            lastSegment(text(binding.properties, 'name')) === serviceOf(target) &&
            text(binding.properties, 'role') === 'roles/run.invoker' &&
            text(binding.properties, 'member') === `serviceAccount:${pushAccount}`,
        )
      ) {
        report('push-authenticated', sub, `${pushAccount} may not invoke ${target.name}; grant it roles/run.invoker`);
      }
      if (target === undefined) {
        report('push-target', sub, `pushes to ${endpoint}, which is none of the deployed functions`);
      } else {
        const timeout = Number(field(target.properties, 'serviceConfig', 'timeoutSeconds') ?? 60);
        const ackDeadline = Number(field(sub.properties, 'ackDeadlineSeconds') ?? 10);
        if (!(ackDeadline > timeout)) {
          report('ack-deadline', sub, `ack deadline ${ackDeadline} s does not exceed ${target.name}'s timeout of ${timeout} s; slow successes get redelivered`);
        }
      }
    }

    if (topic !== undefined && deadLetterTopics.has(topic)) continue; // the end of the line
    const maxAttempts = field(sub.properties, 'deadLetterPolicy', 'maxDeliveryAttempts');
    const deadLetterTopic = lastSegment(text(sub.properties, 'deadLetterPolicy', 'deadLetterTopic'));
    if (deadLetterTopic === undefined || typeof maxAttempts !== 'number' || maxAttempts < 5 || maxAttempts > 100) {
      report('dead-letter', sub, 'has no dead-letter policy with 5–100 attempts; a poison message would be retried for days');
      continue;
    }
    if (field(sub.properties, 'retryPolicy') === undefined) {
      report('retry-backoff', sub, 'has no retry policy; failures are redelivered at once, hammering the failing site');
    }
    const agentPublishes = topicMembers.some(
      (binding) =>
        lastSegment(text(binding.properties, 'topic')) === deadLetterTopic &&
        text(binding.properties, 'role') === 'roles/pubsub.publisher' &&
        PUBSUB_AGENT.test(text(binding.properties, 'member') ?? ''),
    );
    const agentSubscribes = subscriptionMembers.some(
      (binding) =>
        lastSegment(text(binding.properties, 'subscription')) === lastSegment(text(sub.properties, 'name')) &&
        text(binding.properties, 'role') === 'roles/pubsub.subscriber' &&
        PUBSUB_AGENT.test(text(binding.properties, 'member') ?? ''),
    );
    if (!agentPublishes || !agentSubscribes) {
      report(
        'dead-letter-permissions',
        sub,
        'the Pub/Sub service agent needs publisher on the dead-letter topic and subscriber on this subscription, or nothing is ever dead-lettered',
      );
    }
    const consumed = subscriptions.some(
      (other) => lastSegment(text(other.properties, 'topic')) === deadLetterTopic && text(other.properties, 'pushConfig', 'pushEndpoint') !== undefined,
    );
    if (!consumed) report('dead-letter-consumed', sub, `nothing pushes ${deadLetterTopic} to the recorder; dead letters would never be marked failed`);
  }

  // Creating a resource before its API is enabled fails on a fresh project.
  const services = ofType(resources, SERVICE).map(keyOf);
  if (services.length > 0 && resources.some((resource) => resource.dependsOn !== undefined)) {
    const byKey = new Map(resources.map((resource) => [keyOf(resource), resource]));
    for (const resource of resources) {
      if (!resource.type.startsWith('gcp:') || resource.type === SERVICE) continue;
      const waitsFor = closure(resource, byKey);
      const missing = services.filter((service) => !waitsFor.has(service));
      if (missing.length > 0) {
        const names = missing.map((key) => text(byKey.get(key)?.properties, 'service') ?? key);
        report('apis-first', resource, `is created without waiting for ${names.join(', ')} to be enabled; add the services to dependsOn`);
      }
    }
  }

  return violations;
}

function keyOf(resource: CapturedResource): string {
  return `${resource.type}::${resource.name}`;
}

/** Everything `resource` waits for, directly or through what it waits for. */
function closure(resource: CapturedResource, byKey: Map<string, CapturedResource>): Set<string> {
  const seen = new Set<string>();
  const pending = [...(resource.dependsOn ?? [])];
  while (pending.length > 0) {
    const key = pending.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    pending.push(...(byKey.get(key)?.dependsOn ?? []));
  }
  return seen;
}
