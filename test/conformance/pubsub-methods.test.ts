import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { loadPubSubProtos } from '../../emulator/pubsub/protos';
import { grpcError } from '../helpers/grpc';
import { forEachLane } from '../helpers/lanes';
import { laneClients } from './lane-clients';

/**
 * Every method of the Publisher, Subscriber and SchemaService answers — correctly, or with a status
 * — and none hangs; what the emulators don't do (IAM, DetachSubscription) is UNIMPLEMENTED naming it.
 */
forEachLane('Pub/Sub conformance: every method answers', (lane) => {
  const c = laneClients(lane);

  it('answers every RPC of the three services within seconds (an empty request is refused, not left hanging)', async function () {
    this.timeout(60_000);
    const protos = loadPubSubProtos();
    const services = { Publisher: protos.publisher, Subscriber: protos.subscriber, SchemaService: protos.schemaService };
    const outcomes: string[] = [];
    for (const [serviceName, definition] of Object.entries(services)) {
      const Client = grpc.makeGenericClientConstructor(definition, serviceName);
      const client = new Client(lane.emulators().hosts.pubsub, grpc.credentials.createInsecure());
      try {
        for (const [method, spec] of Object.entries(definition)) {
          const deadline = Date.now() + 5_000;
          const code = await new Promise<number>((resolve) => {
            if (spec.requestStream) {
              const call = client.makeBidiStreamRequest(spec.path, spec.requestSerialize, spec.responseDeserialize, { deadline });
              call.on('data', () => {});
              call.on('error', (error: grpc.ServiceError) => resolve(error.code));
              call.on('end', () => resolve(grpc.status.OK));
              call.write({});
              call.end();
            } else {
              client.makeUnaryRequest(spec.path, spec.requestSerialize, spec.responseDeserialize, {}, { deadline }, (error) =>
                resolve(error ? error.code : grpc.status.OK),
              );
            }
          });
          outcomes.push(`${serviceName}.${method}: ${grpc.status[code]}`);
          assert.notEqual(code, grpc.status.DEADLINE_EXCEEDED, `${serviceName}.${method} did not answer within 5 s`);
        }
      } finally {
        client.close();
      }
    }
    assert.equal(outcomes.length, Object.values(services).reduce((n, s) => n + Object.keys(s).length, 0));
  });

  it('answers UNIMPLEMENTED naming DetachSubscription and the IAM methods', async () => {
    const [topic] = await c.pubsub.createTopic(c.unique('topic'));
    const [subscription] = await topic.createSubscription(c.unique('sub'));
    await assert.rejects(
      c.publisher.detachSubscription({ subscription: subscription.name }),
      grpcError(grpc.status.UNIMPLEMENTED, /DetachSubscription/),
    );
    // The official emulator answers IAM calls UNIMPLEMENTED with no details (measured).
    const names = lane.kind === 'embedded';
    await assert.rejects(topic.iam.getPolicy(), grpcError(grpc.status.UNIMPLEMENTED, names ? /GetIamPolicy/ : undefined));
    await assert.rejects(
      subscription.iam.testPermissions(['pubsub.subscriptions.consume']),
      grpcError(grpc.status.UNIMPLEMENTED, names ? /TestIamPermissions/ : undefined),
    );
    await assert.rejects(
      topic.iam.setPolicy({ bindings: [] }),
      grpcError(grpc.status.UNIMPLEMENTED, names ? /SetIamPolicy/ : undefined),
    );
  });
});
