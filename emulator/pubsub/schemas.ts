/** The schema registry (SchemaService) and publish-time validation of messages, for Avro schemas. */
import { randomBytes } from 'node:crypto';
import { Type } from 'avsc';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, unimplemented } from './errors';
import { parseProjectName, parseSchemaName } from './names';
import { toTimestamp } from './retention';
import type { PubsubMessage, Schema, SchemaSettings, SchemaType, Topic } from './types';

/** The schema name a topic shows once its schema was deleted (pubsub.proto). */
export const deletedSchema = '_deleted-schema_';

export type SchemaView = 'SCHEMA_VIEW_UNSPECIFIED' | 'BASIC' | 'FULL';
export type Encoding = 'ENCODING_UNSPECIFIED' | 'JSON' | 'BINARY';

interface Revision {
  revisionId: string;
  definition: string;
  createMs: number;
  avro: Type;
}

interface StoredSchema {
  name: string;
  type: SchemaType;
  /** Oldest first. */
  revisions: Revision[];
}

const protocolBuffers = (method: string) =>
  unimplemented(
    `google.pubsub.v1.SchemaService.${method}: Protocol Buffer schemas are not implemented by the Node-native ` +
      'Pub/Sub emulator (Avro only), as on the official emulator.',
  );

/** Parses an Avro schema definition; throws INVALID_ARGUMENT saying why it is not one. */
function parseAvro(definition: string | undefined): Type {
  try {
    return Type.forSchema(JSON.parse(definition ?? '') as never);
  } catch (error) {
    throw invalidArgument(`Invalid schema definition: not an Avro schema (${(error as Error).message}).`);
  }
}

/** Decodes `data` in `encoding` against `avro`; returns the reason it doesn't match, or null. */
function mismatch(avro: Type, data: Buffer, encoding: Encoding): string | null {
  try {
    if (encoding === 'JSON') {
      const value: unknown = avro.fromString(data.toString('utf8'));
      if (!avro.isValid(value)) return 'the JSON does not match the schema';
    } else {
      avro.fromBuffer(data);
    }
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

function checkEncoding(encoding: string | undefined): Encoding {
  if (encoding === 'JSON' || encoding === 'BINARY') return encoding;
  throw invalidArgument(`Invalid encoding "${encoding ?? ''}": it must be JSON or BINARY.`);
}

/**
 * Schemas with their revisions, in memory. Avro only: a Protocol Buffer schema answers
 * UNIMPLEMENTED naming the method, as the official emulator does.
 */
export class SchemaRegistry {
  private readonly schemas = new Map<string, StoredSchema>();

  create(parent: string, schemaId: string, input: Schema | undefined): Schema {
    parseProjectName(parent);
    const name = `${parent}/schemas/${schemaId}`;
    parseSchemaName(name, 'schema_id');
    const revision = this.newRevision('CreateSchema', input);
    if (this.schemas.has(name)) throw alreadyExists(`Schema already exists (resource=${name}).`);
    const stored: StoredSchema = { name, type: input!.type!, revisions: [revision] };
    this.schemas.set(name, stored);
    return show(stored, revision, 'FULL');
  }

  /** `name` may name a revision as `name@revisionId`; the latest revision otherwise. */
  get(name: string, view: SchemaView = 'FULL'): Schema {
    const { stored, revision } = this.lookup(name);
    return show(stored, revision, view === 'BASIC' ? 'BASIC' : 'FULL');
  }

  list(parent: string, view: SchemaView = 'BASIC'): Schema[] {
    const project = parseProjectName(parent);
    return [...this.schemas.values()]
      .filter((s) => s.name.startsWith(`projects/${project}/`))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((s) => show(s, s.revisions[s.revisions.length - 1]!, view === 'FULL' ? 'FULL' : 'BASIC'));
  }

  listRevisions(name: string, view: SchemaView = 'BASIC'): Schema[] {
    const stored = this.schema(name);
    return stored.revisions.map((r) => show(stored, r, view === 'FULL' ? 'FULL' : 'BASIC'));
  }

  commit(name: string, input: Schema | undefined): Schema {
    const stored = this.schema(name);
    const revision = this.newRevision('CommitSchema', input);
    if (input!.type !== stored.type) {
      throw invalidArgument(`Invalid schema type ${input!.type}: schema ${name} is of type ${stored.type}.`);
    }
    stored.revisions.push(revision);
    return show(stored, revision, 'FULL');
  }

  /** A new revision with the definition of `revisionId`. */
  rollback(name: string, revisionId: string): Schema {
    const stored = this.schema(name);
    const target = stored.revisions.find((r) => r.revisionId === revisionId);
    if (!target) throw notFound(`Schema revision not found (resource=${name}@${revisionId}).`);
    const revision: Revision = { ...target, revisionId: newRevisionId(), createMs: Date.now() };
    stored.revisions.push(revision);
    return show(stored, revision, 'FULL');
  }

  /** `name` is `name@revisionId` (or `name` with the deprecated `revisionId` field). */
  deleteRevision(name: string, revisionId: string | undefined): Schema {
    const full = name.includes('@') ? name : `${name}@${revisionId ?? ''}`;
    const { stored, revision } = this.lookup(full);
    if (stored.revisions.length === 1) {
      throw failedPrecondition(`Schema ${stored.name} has only one revision; delete the schema instead.`);
    }
    stored.revisions = stored.revisions.filter((r) => r !== revision);
    return show(stored, revision, 'FULL');
  }

  delete(name: string): void {
    this.schema(name);
    this.schemas.delete(name);
  }

  validateSchema(parent: string, input: Schema | undefined): void {
    parseProjectName(parent);
    this.newRevision('ValidateSchema', input);
  }

  /** Validates one message against a stored schema (`name`, may be `name@revision`) or an inline one. */
  validateMessage(
    parent: string,
    spec: { name?: string; schema?: Schema },
    message: Buffer | undefined,
    encoding: string | undefined,
  ): void {
    parseProjectName(parent);
    let avro: Type;
    if (spec.name) {
      const { stored, revision } = this.lookup(spec.name);
      if (stored.type !== 'AVRO') throw protocolBuffers('ValidateMessage');
      avro = revision.avro;
    } else if (spec.schema) {
      avro = this.newRevision('ValidateMessage', spec.schema).avro;
    } else {
      throw invalidArgument('ValidateMessage needs a schema name or a schema.');
    }
    const reason = mismatch(avro, message ?? Buffer.alloc(0), checkEncoding(encoding));
    if (reason) throw invalidArgument(`Invalid message: it does not match the schema (${reason}).`);
  }

  /** Validates a topic's schema settings at CreateTopic / UpdateTopic; returns them with defaults. */
  checkSettings(settings: SchemaSettings): SchemaSettings {
    const name = settings.schema ?? '';
    parseSchemaName(name, 'schema_settings.schema');
    const stored = this.schemas.get(name);
    if (!stored) throw notFound(`Schema not found (resource=${name}).`);
    const encoding = checkEncoding(settings.encoding);
    for (const field of ['firstRevisionId', 'lastRevisionId'] as const) {
      const id = settings[field];
      if (id && !stored.revisions.some((r) => r.revisionId === id)) {
        throw invalidArgument(`Invalid schema_settings.${field === 'firstRevisionId' ? 'first' : 'last'}_revision_id: ${id} is not a revision of ${name}.`);
      }
    }
    return { schema: name, encoding, firstRevisionId: settings.firstRevisionId ?? '', lastRevisionId: settings.lastRevisionId ?? '' };
  }

  /** The topic as GetTopic shows it: a deleted schema appears as `_deleted-schema_`. */
  showSettings(topic: Topic): Topic {
    const name = topic.schemaSettings?.schema;
    if (!name || this.schemas.has(name)) return topic;
    return { ...topic, schemaSettings: { ...topic.schemaSettings, schema: deletedSchema } };
  }

  /**
   * Publish-time validation: the message must decode under one revision of the topic's schema within
   * its revision range. Returns the attributes the real service adds (schema name, encoding and the
   * revision that matched); throws INVALID_ARGUMENT otherwise, or NOT_FOUND when the schema was deleted.
   */
  validatePublished(settings: SchemaSettings, message: PubsubMessage): Record<string, string> {
    const stored = this.schemas.get(settings.schema ?? '');
    if (!stored) throw notFound(`The schema of this topic was deleted (resource=${settings.schema}); publishing fails.`);
    const revisions = stored.revisions;
    const first = settings.firstRevisionId ? revisions.findIndex((r) => r.revisionId === settings.firstRevisionId) : 0;
    const last = settings.lastRevisionId
      ? revisions.findIndex((r) => r.revisionId === settings.lastRevisionId)
      : revisions.length - 1;
    const encoding = (settings.encoding ?? 'JSON') as Encoding;
    let reason = 'no revision in the topic\'s range';
    for (let i = last; i >= Math.max(0, first); i--) {
      const revision = revisions[i]!;
      const why = mismatch(revision.avro, message.data ?? Buffer.alloc(0), encoding);
      if (why === null) {
        return {
          googclient_schemaname: stored.name,
          googclient_schemaencoding: encoding,
          googclient_schemarevisionid: revision.revisionId,
        };
      }
      reason = why;
    }
    throw invalidArgument(
      `Invalid data in message: it does not match schema ${stored.name} in ${encoding} encoding (${reason}).`,
    );
  }

  clear(): void {
    this.schemas.clear();
  }

  private newRevision(method: string, input: Schema | undefined): Revision {
    if (!input) throw invalidArgument(`${method} needs a schema.`);
    if (input.type === 'PROTOCOL_BUFFER') throw protocolBuffers(method);
    if (input.type !== 'AVRO') {
      throw invalidArgument(`Invalid schema type "${input.type ?? 'TYPE_UNSPECIFIED'}": it must be AVRO (or PROTOCOL_BUFFER).`);
    }
    return { revisionId: newRevisionId(), definition: input.definition ?? '', createMs: Date.now(), avro: parseAvro(input.definition) };
  }

  private schema(name: string): StoredSchema {
    parseSchemaName(name);
    const stored = this.schemas.get(name);
    if (!stored) throw notFound(`Schema not found (resource=${name}).`);
    return stored;
  }

  private lookup(nameWithRevision: string): { stored: StoredSchema; revision: Revision } {
    const [name, revisionId] = nameWithRevision.split('@');
    const stored = this.schema(name!);
    if (revisionId === undefined) return { stored, revision: stored.revisions[stored.revisions.length - 1]! };
    const revision = stored.revisions.find((r) => r.revisionId === revisionId);
    if (!revision) throw notFound(`Schema revision not found (resource=${nameWithRevision}).`);
    return { stored, revision };
  }
}

const newRevisionId = (): string => randomBytes(4).toString('hex');

function show(stored: StoredSchema, revision: Revision, view: 'BASIC' | 'FULL'): Schema {
  const schema: Schema = {
    name: stored.name,
    type: stored.type,
    revisionId: revision.revisionId,
    revisionCreateTime: toTimestamp(revision.createMs),
  };
  if (view === 'FULL') schema.definition = revision.definition;
  return schema;
}
