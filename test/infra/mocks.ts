/**
 * Runs the Pulumi program under `pulumi.runtime.setMocks`, offline, and captures every resource
 * it declares. The mocks are set once per process, here; the program is imported only after that
 * (a static import of it before `setMocks` hangs silently).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import type { CapturedResource } from '../../infra/policies';
import { ENTRY_FILE } from '../../functions/src/coldstart/files';

export const PROJECT = 'portfolio-prod-1';
export const PROJECT_NUMBER = '123456789012';
export const REGION = 'europe-west1';

let captured: CapturedResource[] = [];
/** Dependencies of each registration, `<type>::<name>` → what it waits for, in the same form. */
const dependencies = new Map<string, string[]>();
let mocksReady: Promise<typeof import('../../infra/stack')> | undefined;

function shortName(args: pulumi.runtime.MockResourceArgs): string {
  return typeof args.inputs.name === 'string' ? args.inputs.name : args.name;
}

/** What Google Cloud would report back for each resource type the program uses. */
function outputsOf(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
  const inputs = args.inputs as Record<string, unknown>;
  const name = shortName(args);
  const project = typeof inputs.project === 'string' ? inputs.project : PROJECT;
  switch (args.type) {
    case 'gcp:pubsub/topic:Topic':
      return { id: `projects/${project}/topics/${name}`, state: { ...inputs, name } };
    case 'gcp:pubsub/subscription:Subscription':
      return { id: `projects/${project}/subscriptions/${name}`, state: { ...inputs, name } };
    case 'gcp:serviceaccount/account:Account': {
      const email = `${String(inputs.accountId)}@${project}.iam.gserviceaccount.com`;
      return {
        id: `projects/${project}/serviceAccounts/${email}`,
        state: { ...inputs, email, name: `projects/${project}/serviceAccounts/${email}`, member: `serviceAccount:${email}` },
      };
    }
    case 'gcp:cloudfunctionsv2/function:Function': {
      const location = String(inputs.location);
      const serviceConfig = (inputs.serviceConfig ?? {}) as Record<string, unknown>;
      return {
        id: `projects/${project}/locations/${location}/functions/${name}`,
        state: {
          ...inputs,
          name,
          url: `https://${location}-${project}.cloudfunctions.net/${name}`,
          serviceConfig: {
            ...serviceConfig,
            uri: `https://${name}-x7k2p9q4ra-ew.a.run.app`,
            service: `projects/${project}/locations/${location}/services/${name}`,
          },
        },
      };
    }
    default:
      return { id: `${name}-id`, state: { ...inputs, name } };
  }
}

const mocks: pulumi.runtime.Mocks = {
  newResource(args) {
    const { id, state } = outputsOf(args);
    // Plain data only (an archive's contents are promises), so tests may clone and edit it.
    captured.push({
      type: args.type,
      name: args.name,
      properties: JSON.parse(JSON.stringify(state)) as Record<string, unknown>,
      dependsOn: dependencies.get(`${args.type}::${args.name}`) ?? [],
    });
    return { id, state };
  },
  call(args) {
    if (args.token === 'gcp:organizations/getProject:getProject') {
      const projectId = (args.inputs as { projectId?: string }).projectId ?? PROJECT;
      return { id: `projects/${projectId}`, projectId, number: PROJECT_NUMBER, name: projectId };
    }
    throw new Error(`unexpected invoke ${args.token}: answer it in test/infra/mocks.ts`);
  },
};

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
}

/** `urn:pulumi:stack::project::parent$type::name` → `type::name`. */
function keyOfUrn(urn: string): string {
  const parts = urn.split('::');
  return `${parts[2]?.split('$').pop()}::${parts.slice(3).join('::')}`;
}

/**
 * The mocks are not told what a resource depends on; the registration request is. Wraps the mock
 * monitor's registerResource to note each request's dependencies (explicit and from inputs).
 */
function recordDependencies(): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource?: (req: RegisterRequest, callback: unknown) => unknown };
  const register = monitor.registerResource?.bind(monitor);
  if (register === undefined) throw new Error('the mock monitor has no registerResource; update test/infra/mocks.ts');
  monitor.registerResource = (req, callback) => {
    dependencies.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList().map(keyOfUrn));
    return register(req, callback);
  };
}

async function loadProgram(): Promise<typeof import('../../infra/stack')> {
  mocksReady ??= (async () => {
    await pulumi.runtime.setMocks(mocks, 'portfolio-scraper', 'test', false);
    recordDependencies();
    // A dynamic import() in CommonJS keeps its specifier under node16, hence the extension; tsx
    // resolves it to the .ts file.
    return import('../../infra/stack.js');
  })();
  return mocksReady;
}

/** Resolves an output the way `pulumi stack output` would show it. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/**
 * A stand-in for `npm run build` output: `deploy/<entryPoint>/index.cjs` and its `bundled.json` (which
 * inlines nothing and installs functions-framework) for each function.
 */
export class FakeBuild {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'infra-build-'));

  constructor(entrySource = 'exports.ok = true;\n') {
    for (const entryPoint of ['api', 'scrapeArticle', 'recordDeadLetter']) this.write(entrySource, entryPoint);
  }

  /** Writes one function's bundle (and a manifest, `bundled` packages by location → version). */
  write(entrySource: string, entryPoint = 'api', bundled: Record<string, string> = {}): void {
    const dir = path.join(this.dir, 'deploy', entryPoint);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, ENTRY_FILE), entrySource);
    writeFileSync(path.join(dir, 'bundled.json'), JSON.stringify({ target: entryPoint, bundled, external: ['@google-cloud/functions-framework'] }));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One program run: every declared resource and the stack outputs, resolved. */
export interface StackRun {
  resources: CapturedResource[];
  outputs: Record<string, unknown>;
}

function setConfig(build: FakeBuild, config: Record<string, string>): void {
  const all: Record<string, string> = { 'gcp:project': PROJECT, 'gcp:region': REGION, sourceDir: build.dir, ...config };
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(all).map(([key, value]) => [key.includes(':') ? key : `portfolio-scraper:${key}`, value])),
  );
}

/**
 * Runs the program with `config` (keys without a namespace belong to the program; `gcp:*` keys to
 * the provider) on top of a valid project, region and build directory.
 */
export async function runStack(build: FakeBuild, config: Record<string, string> = {}): Promise<StackRun> {
  const program = await loadProgram();
  setConfig(build, config);
  captured = [];
  const outputs = program.deployStack();
  const resolved: Record<string, unknown> = {};
  for (const [key, output] of Object.entries(outputs)) resolved[key] = await valueOf(output as pulumi.Output<unknown>);
  await waitForRegistrations();
  return { resources: captured, outputs: resolved };
}

/**
 * Loads `infra/index.ts` the way `pulumi up` does, with the default configuration, and returns
 * its exports (the stack outputs). A module loads once per process, so this runs the entry once.
 */
export async function runEntryPoint(build: FakeBuild): Promise<Record<string, unknown>> {
  await loadProgram();
  setConfig(build, {});
  captured = [];
  const entry = (await import('../../infra/index.js')) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (pulumi.Output.isInstance(value)) outputs[key] = await valueOf(value);
  }
  await waitForRegistrations();
  return outputs;
}

/**
 * Waits until every declared resource has reached the mocks. Outputs alone do not tell: a role
 * binding nothing depends on may still be in flight. `waitForRPCs` is the SDK's own drain (not in
 * its typings; @pulumi/pulumi is pinned).
 */
async function waitForRegistrations(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const settings = require('@pulumi/pulumi/runtime/settings') as { waitForRPCs?: () => Promise<void> };
  if (typeof settings.waitForRPCs !== 'function') throw new Error('@pulumi/pulumi no longer exports waitForRPCs; update test/infra/mocks.ts');
  await settings.waitForRPCs();
}

/** Resources of one type, e.g. `gcp:pubsub/subscription:Subscription`. */
export function ofType(run: StackRun, type: string): CapturedResource[] {
  return run.resources.filter((resource) => resource.type === type);
}
