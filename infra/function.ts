/**
 * One Cloud Function (2nd gen) with its own service account: the account holds exactly the
 * project roles this function needs, so a compromised scraper cannot publish and a compromised
 * API cannot do more than publish and use Firestore.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { FunctionSizing } from './settings';
import { RUNTIME } from './runtime';
import { NODE_OPTIONS } from './source';

/**
 * Options of this program's components. `dependsOn` is a plain list because each component hands
 * it to its children: Pulumi does not make a component's children wait for the component's own
 * dependencies (here, the Google APIs being enabled).
 */
export type ComponentOptions = Omit<pulumi.ComponentResourceOptions, 'dependsOn'> & { dependsOn?: pulumi.Resource[] };

/** Entry points registered by functions/src/index.ts. */
export type EntryPoint = 'api' | 'scrapeArticle' | 'recordDeadLetter';

export interface FunctionServiceArgs {
  project: string;
  region: string;
  /** Function (and Cloud Run service) name. */
  functionName: string;
  entryPoint: EntryPoint;
  description: string;
  /** Service account id, 6–30 characters. */
  accountId: string;
  /** Bucket and object of the source archive. */
  source: { bucket: pulumi.Input<string>; object: pulumi.Input<string> };
  /** Fully qualified name of the service account Cloud Build runs as. */
  buildServiceAccount: pulumi.Input<string>;
  timeoutSeconds: number;
  sizing: FunctionSizing;
  environment: Record<string, pulumi.Input<string>>;
  /** The URL Pub/Sub pushes to and signs its tokens for, when known before the function exists (see stack.ts); else its uri. */
  pushUrl?: pulumi.Input<string>;
  /** Project-level roles of this function's service account. */
  projectRoles: string[];
  /** Members granted `roles/run.invoker` on this function besides those granted with `grantInvoker`. */
  invokers?: string[];
}

/** A function, its service account and its role bindings. */
export class FunctionService extends pulumi.ComponentResource {
  readonly function: gcp.cloudfunctionsv2.Function;
  readonly serviceAccount: gcp.serviceaccount.Account;
  /** The HTTPS URL Cloud Run serves the function on; also the audience of tokens sent to it. */
  readonly url: pulumi.Output<string>;
  /** The URL its push subscriptions push to, also their tokens' audience and its PUSH_AUDIENCE. */
  readonly pushUrl: pulumi.Output<string>;
  /** `serviceAccount:<email>` of the function's identity. */
  readonly serviceAccountMember: pulumi.Output<string>;
  /** The Cloud Run service behind the function, which is where `run.invoker` is granted. */
  readonly serviceName: pulumi.Output<string>;
  private readonly region: string;
  private readonly project: string;

  constructor(name: string, args: FunctionServiceArgs, opts: ComponentOptions = {}) {
    super('portfolio:functions:FunctionService', name, {}, opts);
    this.region = args.region;
    this.project = args.project;
    const child = { parent: this, dependsOn: opts.dependsOn };

    this.serviceAccount = new gcp.serviceaccount.Account(
      `${name}-identity`,
      { project: args.project, accountId: args.accountId, displayName: `${args.functionName} function` },
      child,
    );
    this.serviceAccountMember = pulumi.interpolate`serviceAccount:${this.serviceAccount.email}`;

    const grants = args.projectRoles.map(
      (role) =>
        new gcp.projects.IAMMember(
          `${name}-${role.replace(/^roles\//, '').replace(/\./g, '-')}`,
          { project: args.project, role, member: this.serviceAccountMember },
          child,
        ),
    );

    this.function = new gcp.cloudfunctionsv2.Function(
      `${name}-function`,
      {
        project: args.project,
        location: args.region,
        name: args.functionName,
        description: args.description,
        buildConfig: {
          runtime: RUNTIME,
          entryPoint: args.entryPoint,
          source: { storageSource: { bucket: args.source.bucket, object: args.source.object } },
          serviceAccount: args.buildServiceAccount,
        },
        serviceConfig: {
          serviceAccountEmail: this.serviceAccount.email,
          // NODE_OPTIONS preloads the code cache the archive's gcp-build wrote (infra/source.ts).
          environmentVariables: { ...args.environment, NODE_OPTIONS },
          availableMemory: args.sizing.memory,
          // Concurrency above 1 requires at least one whole vCPU; fetching and parsing pages also
          // wants it.
          availableCpu: '1',
          timeoutSeconds: args.timeoutSeconds,
          maxInstanceCount: args.sizing.maxInstances,
          maxInstanceRequestConcurrency: args.sizing.concurrency,
          // Pub/Sub push arrives from outside the project's network; authentication (run.invoker)
          // is what keeps callers out, not ingress.
          ingressSettings: 'ALLOW_ALL',
          allTrafficOnLatestRevision: true,
        },
      },
      // The function's first instance talks to Firestore at once: let its role exist first.
      { parent: this, dependsOn: [...(opts.dependsOn ?? []), ...grants] },
    );

    this.url = this.function.serviceConfig.apply((config) => config?.uri ?? '');
    this.pushUrl = args.pushUrl === undefined ? this.url : pulumi.output(args.pushUrl);
    this.serviceName = pulumi
      .all([this.function.serviceConfig, this.function.name])
      .apply(([config, functionName]) => config?.service || functionName);

    for (const [index, member] of (args.invokers ?? []).entries()) {
      this.grantInvoker(`${name}-invoker-${index}`, member, this);
    }

    this.registerOutputs({
      url: this.url,
      serviceName: this.serviceName,
      serviceAccountEmail: this.serviceAccount.email,
    });
  }

  /** Lets `member` call this function: `roles/run.invoker` on its Cloud Run service. */
  grantInvoker(name: string, member: pulumi.Input<string>, parent: pulumi.Resource): gcp.cloudrunv2.ServiceIamMember {
    return new gcp.cloudrunv2.ServiceIamMember(
      name,
      { project: this.project, location: this.region, name: this.serviceName, role: 'roles/run.invoker', member },
      { parent },
    );
  }
}

