import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { Type } from 'avsc';
import { Encodings, SchemaTypes } from '@google-cloud/pubsub';
import { grpcError } from '../helpers/grpc';
import { forEachLane } from '../helpers/lanes';
import { laneClients, text } from './lane-clients';

/**
 * The SchemaService for Avro and publish-time validation, through the official client on every lane.
 * Protocol Buffer schemas answer UNIMPLEMENTED on both emulators.
 */
forEachLane('Pub/Sub conformance: schemas', (lane) => {
  const c = laneClients(lane);
  const project = `projects/${lane.projectId}`;
  const article = {
    type: 'record',
    name: 'Article',
    fields: [
      { name: 'url', type: 'string' },
      { name: 'attempt', type: 'int' },
    ],
  };
  const articleV2 = { ...article, fields: [...article.fields, { name: 'note', type: ['null', 'string'], default: null }] };

  it('creates, gets, lists, commits, lists revisions of and deletes an Avro schema', async () => {
    const id = c.unique('article');
    const name = `${project}/schemas/${id}`;
    const [created] = await c.schemas.createSchema({
      parent: project,
      schemaId: id,
      schema: { type: 'AVRO', definition: JSON.stringify(article) },
    });
    assert.equal(created.name, name);
    assert.equal(created.type, 'AVRO');
    assert.match(created.revisionId ?? '', /^[0-9a-f]{8}$/);
    assert.deepEqual(JSON.parse(created.definition!), article);

    const [full] = await c.schemas.getSchema({ name });
    assert.equal(full.definition, created.definition);
    const [basic] = await c.schemas.getSchema({ name, view: 'BASIC' });
    assert.ok(!basic.definition, 'the BASIC view leaves out the definition');
    const [listed] = await c.schemas.listSchemas({ parent: project, view: 'FULL' }, { autoPaginate: false });
    assert.ok(listed.some((s) => s.name === name && s.definition === created.definition));

    const [committed] = await c.schemas.commitSchema({ name, schema: { name, type: 'AVRO', definition: JSON.stringify(articleV2) } });
    assert.notEqual(committed.revisionId, created.revisionId);
    const [revisions] = await c.schemas.listSchemaRevisions({ name, view: 'FULL' }, { autoPaginate: false });
    assert.deepEqual(revisions.map((r) => r.revisionId).sort(), [created.revisionId, committed.revisionId].sort());
    const [latest] = await c.schemas.getSchema({ name });
    assert.equal(latest.revisionId, committed.revisionId);
    const [first] = await c.schemas.getSchema({ name: `${name}@${created.revisionId}` });
    assert.equal(first.definition, created.definition);

    await assert.rejects(
      c.schemas.createSchema({ parent: project, schemaId: id, schema: { type: 'AVRO', definition: JSON.stringify(article) } }),
      grpcError(status.ALREADY_EXISTS),
    );
    await c.schemas.deleteSchema({ name });
    await assert.rejects(c.schemas.getSchema({ name }), grpcError(status.NOT_FOUND));
  });

  it('rolls back to a revision and deletes a revision (not the last one)', async () => {
    const id = c.unique('article');
    const name = `${project}/schemas/${id}`;
    const [v1] = await c.schemas.createSchema({ parent: project, schemaId: id, schema: { type: 'AVRO', definition: JSON.stringify(article) } });
    const [v2] = await c.schemas.commitSchema({ name, schema: { name, type: 'AVRO', definition: JSON.stringify(articleV2) } });
    const [rolledBack] = await c.schemas.rollbackSchema({ name, revisionId: v1.revisionId! });
    assert.ok(![v1.revisionId, v2.revisionId].includes(rolledBack.revisionId));
    assert.deepEqual(JSON.parse(rolledBack.definition!), article);
    assert.equal((await c.schemas.getSchema({ name }))[0].revisionId, rolledBack.revisionId);

    await c.schemas.deleteSchemaRevision({ name: `${name}@${v2.revisionId}` });
    const [revisions] = await c.schemas.listSchemaRevisions({ name }, { autoPaginate: false });
    assert.deepEqual(revisions.map((r) => r.revisionId).sort(), [v1.revisionId, rolledBack.revisionId].sort());
    await assert.rejects(c.schemas.getSchema({ name: `${name}@${v2.revisionId}` }), grpcError(status.NOT_FOUND));
    await assert.rejects(c.schemas.rollbackSchema({ name, revisionId: 'deadbeef' }), grpcError(status.NOT_FOUND));
    await c.schemas.deleteSchema({ name });
  });

  it('validates schemas and messages (JSON and binary) without a topic', async () => {
    await c.schemas.validateSchema({ parent: project, schema: { type: 'AVRO', definition: JSON.stringify(article) } });
    await assert.rejects(
      c.schemas.validateSchema({ parent: project, schema: { type: 'AVRO', definition: '{"type":"record"}' } }),
      grpcError(status.INVALID_ARGUMENT),
    );
    const schema = { type: 'AVRO' as const, definition: JSON.stringify(article) };
    const good = { url: 'https://example.com/a', attempt: 1 };
    await c.schemas.validateMessage({ parent: project, schema, message: Buffer.from(JSON.stringify(good)), encoding: 'JSON' });
    await assert.rejects(
      c.schemas.validateMessage({ parent: project, schema, message: Buffer.from('{"url":1}'), encoding: 'JSON' }),
      grpcError(status.INVALID_ARGUMENT),
    );
    const binary = Type.forSchema(article as never).toBuffer(good);
    await c.schemas.validateMessage({ parent: project, schema, message: binary, encoding: 'BINARY' });
    await assert.rejects(
      c.schemas.validateMessage({ parent: project, schema, message: binary.subarray(0, 3), encoding: 'BINARY' }),
      grpcError(status.INVALID_ARGUMENT),
    );
    await assert.rejects(
      c.schemas.validateMessage({ parent: project, schema, message: Buffer.from(JSON.stringify(good)) }),
      grpcError(status.INVALID_ARGUMENT),
    );
  });

  it('validates what is published to a topic with schema settings and tags it with the schema', async () => {
    const id = c.unique('article');
    const schema = await c.pubsub.createSchema(id, SchemaTypes.Avro, JSON.stringify(article));
    const schemaName = await schema.getName();
    for (const encoding of [Encodings.Json, Encodings.Binary]) {
      const [topic] = await c.pubsub.createTopic({
        name: c.unique('topic'),
        schemaSettings: { schema: schemaName, encoding },
      });
      const [subscription] = await topic.createSubscription(c.unique('sub'));
      const value = { url: `https://example.com/${encoding}`, attempt: 2 };
      const data =
        encoding === Encodings.Json ? Buffer.from(JSON.stringify(value)) : Type.forSchema(article as never).toBuffer(value);
      await topic.publishMessage({ data });
      await assert.rejects(topic.publishMessage({ data: Buffer.from('not an article') }), grpcError(status.INVALID_ARGUMENT));
      const [received] = await c.pullAtLeast(subscription.name, 1);
      assert.deepEqual(received!.message!.data, data);
      const attributes = received!.message!.attributes!;
      assert.equal(attributes.googclient_schemaname, schemaName);
      assert.equal(attributes.googclient_schemaencoding, encoding);
      assert.match(attributes.googclient_schemarevisionid ?? '', /^[0-9a-f]{8}$/);
      if (encoding === Encodings.Json) assert.equal(JSON.parse(text(received!)).url, value.url);
    }
  });

  it('refuses topic schema settings without an encoding or with a missing schema; a deleted schema fails publishing', async () => {
    const id = c.unique('article');
    const schema = await c.pubsub.createSchema(id, SchemaTypes.Avro, JSON.stringify(article));
    const schemaName = await schema.getName();
    await assert.rejects(
      c.publisher.createTopic({ name: `${project}/topics/${c.unique('topic')}`, schemaSettings: { schema: schemaName } }),
      grpcError(status.INVALID_ARGUMENT),
    );
    await assert.rejects(
      c.publisher.createTopic({
        name: `${project}/topics/${c.unique('topic')}`,
        schemaSettings: { schema: `${project}/schemas/${c.unique('missing')}`, encoding: 'JSON' },
      }),
      grpcError(status.NOT_FOUND),
    );
    const [topic] = await c.publisher.createTopic({
      name: `${project}/topics/${c.unique('topic')}`,
      schemaSettings: { schema: schemaName, encoding: 'JSON' },
    });
    await c.schemas.deleteSchema({ name: schemaName });
    const [shown] = await c.publisher.getTopic({ topic: topic.name });
    assert.equal(shown.schemaSettings?.schema, '_deleted-schema_');
    await assert.rejects(
      c.publisher.publish({ topic: topic.name, messages: [{ data: Buffer.from(JSON.stringify({ url: 'u', attempt: 1 })) }] }),
      grpcError(status.NOT_FOUND),
    );
  });

  it('answers UNIMPLEMENTED for Protocol Buffer schemas', async () => {
    await assert.rejects(
      c.schemas.createSchema({
        parent: project,
        schemaId: c.unique('proto'),
        schema: { type: 'PROTOCOL_BUFFER', definition: 'syntax = "proto3"; message Article { string url = 1; }' },
      }),
      grpcError(status.UNIMPLEMENTED),
    );
  });
});
