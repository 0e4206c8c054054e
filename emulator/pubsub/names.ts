import { invalidArgument } from './errors';

/** A parsed `projects/{project}/{collection}/{id}` resource name. */
export interface ResourceName {
  /** The full name as the client sent it. */
  name: string;
  project: string;
  /** The short id (the last segment). */
  id: string;
}

// Pub/Sub's rule for topic and subscription ids: 3–255 characters, starting with a letter, made of
// letters, digits and `-_.~+%`, and not starting with "goog" (reserved by Google).
const resourceId = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
// Project ids are looser on the emulators (any segment without a slash); both emulators accept test ids.
const projectId = /^[^/]+$/;

function parse(name: string, collection: 'topics' | 'subscriptions' | 'snapshots' | 'schemas', field: string): ResourceName {
  const parts = typeof name === 'string' ? name.split('/') : [];
  const [projects, project, kind, id] = parts;
  const valid =
    parts.length === 4 &&
    projects === 'projects' &&
    kind === collection &&
    project !== undefined &&
    projectId.test(project) &&
    id !== undefined &&
    resourceId.test(id) &&
    !id.toLowerCase().startsWith('goog');
  if (!valid) {
    throw invalidArgument(
      `Invalid [${collection}] name: (${field}=${String(name)}). Expected projects/{project}/${collection}/{id}, ` +
        'the id 3–255 characters, starting with a letter, using only letters, digits and -_.~+%, not starting with "goog".',
    );
  }
  return { name, project: project!, id: id! };
}

/** Parses and validates a topic name; throws INVALID_ARGUMENT naming the field otherwise. */
export const parseTopicName = (name: string, field = 'topic'): ResourceName => parse(name, 'topics', field);

/** Parses and validates a subscription name; throws INVALID_ARGUMENT naming the field otherwise. */
export const parseSubscriptionName = (name: string, field = 'subscription'): ResourceName =>
  parse(name, 'subscriptions', field);

/** Parses `projects/{project}`; throws INVALID_ARGUMENT otherwise. */
export function parseProjectName(name: string): string {
  const match = /^projects\/([^/]+)$/.exec(typeof name === 'string' ? name : '');
  if (!match) throw invalidArgument(`Invalid project name: (project=${String(name)}). Expected projects/{project}.`);
  return match[1]!;
}

/** Parses and validates a snapshot name; throws INVALID_ARGUMENT naming the field otherwise. */
export const parseSnapshotName = (name: string, field = 'snapshot'): ResourceName => parse(name, 'snapshots', field);

/** Parses and validates a schema name; throws INVALID_ARGUMENT naming the field otherwise. */
export const parseSchemaName = (name: string, field = 'name'): ResourceName => parse(name, 'schemas', field);
