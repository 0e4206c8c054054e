import * as grpc from '@grpc/grpc-js';
import type { Broker, StreamConsumer } from './broker';
import { PubSubApiError, invalidArgument } from './errors';
import { parseProjectName } from './names';
import type { SchemaRegistry, SchemaView } from './schemas';
import type { PubsubMessage, PushConfig, Schema, Snapshot, Subscription, Timestamp, Topic } from './types';

type Unary<Req, Res> = (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>;
type Handlers = Record<string, grpc.UntypedHandleCall>;

/** Converts any thrown value into the status the client sees. */
export function toStatus(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof PubSubApiError) return { code: error.code, details: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: grpc.status.INTERNAL, details: `Pub/Sub emulator internal error: ${message}` };
}

function unary<Req, Res>(handler: Unary<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handler(call.request, call))
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error)),
      );
  };
}

const empty = {};

/** Pages a sorted list with an offset token, as List* RPCs do. */
function page<T>(items: T[], pageSize: number | undefined, pageToken: string | undefined): { items: T[]; next: string } {
  const start = pageToken ? Number(pageToken) : 0;
  if (!Number.isInteger(start) || start < 0) throw invalidArgument(`Invalid page_token: "${pageToken}".`);
  const size = pageSize && pageSize > 0 ? pageSize : items.length;
  const end = start + size;
  return { items: items.slice(start, end), next: end < items.length ? String(end) : '' };
}

/** Publisher methods (google.pubsub.v1.Publisher). */
export function publisherHandlers(broker: Broker): Handlers {
  return {
    CreateTopic: unary((req: Topic) => broker.createTopic(req)),
    GetTopic: unary((req: { topic: string }) => broker.getTopic(req.topic)),
    ListTopics: unary((req: { project: string; pageSize?: number; pageToken?: string }) => {
      const { items, next } = page(broker.listTopics(parseProjectName(req.project)), req.pageSize, req.pageToken);
      return { topics: items, nextPageToken: next };
    }),
    ListTopicSubscriptions: unary((req: { topic: string; pageSize?: number; pageToken?: string }) => {
      const { items, next } = page(broker.listTopicSubscriptions(req.topic), req.pageSize, req.pageToken);
      return { subscriptions: items, nextPageToken: next };
    }),
    UpdateTopic: unary((req: { topic?: Topic; updateMask?: { paths?: string[] } }) => {
      if (!req.topic) throw invalidArgument('UpdateTopic needs a topic.');
      return broker.updateTopic(req.topic, req.updateMask?.paths ?? []);
    }),
    ListTopicSnapshots: unary((req: { topic: string; pageSize?: number; pageToken?: string }) => {
      const { items, next } = page(broker.listTopicSnapshots(req.topic), req.pageSize, req.pageToken);
      return { snapshots: items, nextPageToken: next };
    }),
    DeleteTopic: unary((req: { topic: string }) => {
      broker.deleteTopic(req.topic);
      return empty;
    }),
    Publish: unary((req: { topic: string; messages?: PubsubMessage[] }) => ({
      messageIds: broker.publish(req.topic, req.messages ?? []),
    })),
  };
}

/** Subscriber methods (google.pubsub.v1.Subscriber). */
export function subscriberHandlers(broker: Broker): Handlers {
  return {
    CreateSubscription: unary((req: Subscription) => broker.createSubscription(req)),
    GetSubscription: unary((req: { subscription: string }) => broker.getSubscription(req.subscription)),
    UpdateSubscription: unary((req: { subscription?: Subscription; updateMask?: { paths?: string[] } }) => {
      if (!req.subscription) throw invalidArgument('UpdateSubscription needs a subscription.');
      return broker.updateSubscription(req.subscription, req.updateMask?.paths ?? []);
    }),
    ListSubscriptions: unary((req: { project: string; pageSize?: number; pageToken?: string }) => {
      const all = broker.listSubscriptions(parseProjectName(req.project));
      const { items, next } = page(all, req.pageSize, req.pageToken);
      return { subscriptions: items, nextPageToken: next };
    }),
    DeleteSubscription: unary((req: { subscription: string }) => {
      broker.deleteSubscription(req.subscription);
      return empty;
    }),
    ModifyPushConfig: unary((req: { subscription: string; pushConfig?: PushConfig | null }) => {
      broker.modifyPushConfig(req.subscription, req.pushConfig ?? null);
      return empty;
    }),
    Acknowledge: unary((req: { subscription: string; ackIds?: string[] }) => {
      broker.acknowledge(req.subscription, req.ackIds ?? []);
      return empty;
    }),
    ModifyAckDeadline: unary((req: { subscription: string; ackIds?: string[]; ackDeadlineSeconds?: number }) => {
      broker.modifyAckDeadline(req.subscription, req.ackIds ?? [], req.ackDeadlineSeconds ?? 0);
      return empty;
    }),
    Pull: unary(
      async (
        req: { subscription: string; maxMessages?: number; returnImmediately?: boolean },
        call: grpc.ServerUnaryCall<unknown, unknown>,
      ) => {
        const received = await broker.pull(req.subscription, req.maxMessages ?? 0, !!req.returnImmediately, (cancel) =>
          call.once('cancelled', cancel),
        );
        return { receivedMessages: received };
      },
    ),
    StreamingPull: streamingPull(broker),
    CreateSnapshot: unary((req: { name: string; subscription: string; labels?: Record<string, string> }) =>
      broker.createSnapshot(req.name, req.subscription, req.labels),
    ),
    GetSnapshot: unary((req: { snapshot: string }) => broker.getSnapshot(req.snapshot)),
    ListSnapshots: unary((req: { project: string; pageSize?: number; pageToken?: string }) => {
      const all = broker.listSnapshots(parseProjectName(req.project));
      const { items, next } = page(all, req.pageSize, req.pageToken);
      return { snapshots: items, nextPageToken: next };
    }),
    UpdateSnapshot: unary((req: { snapshot?: Snapshot; updateMask?: { paths?: string[] } }) => {
      if (!req.snapshot) throw invalidArgument('UpdateSnapshot needs a snapshot.');
      return broker.updateSnapshot(req.snapshot, req.updateMask?.paths ?? []);
    }),
    DeleteSnapshot: unary((req: { snapshot: string }) => {
      broker.deleteSnapshot(req.snapshot);
      return empty;
    }),
    Seek: unary((req: { subscription: string; time?: Timestamp | null; snapshot?: string }) => {
      broker.seek(req.subscription, { time: req.time, snapshot: req.snapshot });
      return empty;
    }),
  };
}

/** SchemaService methods (google.pubsub.v1.SchemaService), for Avro schemas. */
export function schemaHandlers(schemas: SchemaRegistry): Handlers {
  type Listing = { parent?: string; name?: string; view?: SchemaView; pageSize?: number; pageToken?: string };
  return {
    CreateSchema: unary((req: { parent: string; schema?: Schema; schemaId: string }) =>
      schemas.create(req.parent, req.schemaId, req.schema),
    ),
    GetSchema: unary((req: { name: string; view?: SchemaView }) => schemas.get(req.name, req.view || 'FULL')),
    ListSchemas: unary((req: Listing) => {
      const { items, next } = page(schemas.list(req.parent ?? '', req.view || 'BASIC'), req.pageSize, req.pageToken);
      return { schemas: items, nextPageToken: next };
    }),
    ListSchemaRevisions: unary((req: Listing) => {
      const { items, next } = page(schemas.listRevisions(req.name ?? '', req.view || 'BASIC'), req.pageSize, req.pageToken);
      return { schemas: items, nextPageToken: next };
    }),
    CommitSchema: unary((req: { name: string; schema?: Schema }) => schemas.commit(req.name, req.schema)),
    RollbackSchema: unary((req: { name: string; revisionId: string }) => schemas.rollback(req.name, req.revisionId)),
    DeleteSchemaRevision: unary((req: { name: string; revisionId?: string }) =>
      schemas.deleteRevision(req.name, req.revisionId),
    ),
    DeleteSchema: unary((req: { name: string }) => {
      schemas.delete(req.name);
      return empty;
    }),
    ValidateSchema: unary((req: { parent: string; schema?: Schema }) => {
      schemas.validateSchema(req.parent, req.schema);
      return empty;
    }),
    ValidateMessage: unary(
      (req: { parent: string; name?: string; schema?: Schema; message?: Buffer; encoding?: string }) => {
        schemas.validateMessage(req.parent, { name: req.name, schema: req.schema }, req.message, req.encoding);
        return empty;
      },
    ),
  };
}

interface StreamingPullRequest {
  subscription?: string;
  ackIds?: string[];
  modifyDeadlineSeconds?: number[];
  modifyDeadlineAckIds?: string[];
  streamAckDeadlineSeconds?: number;
  maxOutstandingMessages?: number;
}

/**
 * StreamingPull: the first request names the subscription and the stream's ack deadline; later ones
 * carry acks and deadline changes. Messages are written to the stream as they become available.
 */
function streamingPull(broker: Broker): grpc.handleBidiStreamingCall<StreamingPullRequest, unknown> {
  return (call) => {
    let subscription = '';
    let detach: (() => void) | null = null;
    let finished = false;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      detach?.();
      if (error === undefined) call.end();
      else call.emit('error', toStatus(error));
    };
    const consumer: StreamConsumer = {
      maxOutstandingMessages: 0,
      outstanding: 0,
      ackDeadlineSeconds: 10,
      deliver: (receivedMessages) => {
        if (!finished) call.write({ receivedMessages });
      },
      fail: (error) => finish(error),
    };
    call.on('data', (request: StreamingPullRequest) => {
      if (finished) return;
      try {
        if (!detach) {
          if (!request.subscription) throw invalidArgument('The first StreamingPullRequest must name a subscription.');
          const deadline = request.streamAckDeadlineSeconds ?? 0;
          if (deadline < 10 || deadline > 600) {
            throw invalidArgument(
              `Invalid stream_ack_deadline_seconds: ${deadline}. It must be between 10 and 600 seconds.`,
            );
          }
          subscription = request.subscription;
          consumer.ackDeadlineSeconds = deadline;
          consumer.maxOutstandingMessages = Number(request.maxOutstandingMessages ?? 0);
          detach = broker.attach(subscription, consumer);
        } else if (request.streamAckDeadlineSeconds) {
          consumer.ackDeadlineSeconds = request.streamAckDeadlineSeconds;
        }
        if (request.ackIds?.length) broker.acknowledge(subscription, request.ackIds);
        const ids = request.modifyDeadlineAckIds ?? [];
        const seconds = request.modifyDeadlineSeconds ?? [];
        if (ids.length !== seconds.length) {
          throw invalidArgument('modify_deadline_seconds and modify_deadline_ack_ids must have the same length.');
        }
        ids.forEach((ackId, i) => broker.modifyAckDeadline(subscription, [ackId], seconds[i]!));
      } catch (error) {
        finish(error);
      }
    });
    call.on('end', () => finish());
    call.on('cancelled', () => {
      finished = true;
      detach?.();
    });
    call.on('error', () => {
      finished = true;
      detach?.();
    });
  };
}

/**
 * Fills every method of `service` that `handlers` lacks with an UNIMPLEMENTED answer naming it, so a
 * caller learns exactly which RPC the emulator doesn't cover.
 */
export function withUnimplemented(serviceName: string, service: grpc.ServiceDefinition, handlers: Handlers): Handlers {
  const all: Handlers = { ...handlers };
  for (const [method, definition] of Object.entries(service)) {
    if (all[method]) continue;
    const status = {
      code: grpc.status.UNIMPLEMENTED,
      details: `${serviceName}.${method} is not implemented by the Node-native Pub/Sub emulator.`,
    };
    if (!definition.responseStream) {
      all[method] = ((_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(status)) as grpc.UntypedHandleCall;
    } else {
      all[method] = ((call: grpc.ServerWritableStream<unknown, unknown>) => call.emit('error', status)) as grpc.UntypedHandleCall;
    }
  }
  return all;
}
