/**
 * The subset of `google.pubsub.v1` messages the emulator reads and writes, as @grpc/proto-loader
 * decodes them (camelCase fields, int64 as number, unset fields undefined).
 */

export interface Duration {
  seconds?: number;
  nanos?: number;
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface PushConfig {
  pushEndpoint?: string;
  attributes?: Record<string, string>;
  oidcToken?: { serviceAccountEmail?: string; audience?: string } | null;
  pubsubWrapper?: Record<string, never> | null;
  noWrapper?: { writeMetadata?: boolean } | null;
}

export interface DeadLetterPolicy {
  deadLetterTopic?: string;
  maxDeliveryAttempts?: number;
}

export interface RetryPolicy {
  minimumBackoff?: Duration | null;
  maximumBackoff?: Duration | null;
}

export interface Subscription {
  name: string;
  topic: string;
  pushConfig?: PushConfig | null;
  ackDeadlineSeconds?: number;
  retainAckedMessages?: boolean;
  messageRetentionDuration?: Duration | null;
  labels?: Record<string, string>;
  enableMessageOrdering?: boolean;
  expirationPolicy?: { ttl?: Duration | null } | null;
  filter?: string;
  deadLetterPolicy?: DeadLetterPolicy | null;
  retryPolicy?: RetryPolicy | null;
  detached?: boolean;
  enableExactlyOnceDelivery?: boolean;
  state?: string;
}

export interface SchemaSettings {
  schema?: string;
  encoding?: 'ENCODING_UNSPECIFIED' | 'JSON' | 'BINARY';
  firstRevisionId?: string;
  lastRevisionId?: string;
}

export interface Topic {
  name: string;
  labels?: Record<string, string>;
  messageStoragePolicy?: { allowedPersistenceRegions?: string[]; enforceInTransit?: boolean } | null;
  messageRetentionDuration?: Duration | null;
  kmsKeyName?: string;
  schemaSettings?: SchemaSettings | null;
  state?: string;
}

export interface Snapshot {
  name: string;
  topic?: string;
  expireTime?: Timestamp | null;
  labels?: Record<string, string>;
}

export type SchemaType = 'TYPE_UNSPECIFIED' | 'PROTOCOL_BUFFER' | 'AVRO';

export interface Schema {
  name: string;
  type?: SchemaType;
  definition?: string;
  revisionId?: string;
  revisionCreateTime?: Timestamp | null;
}

export interface PubsubMessage {
  data?: Buffer;
  attributes?: Record<string, string>;
  messageId?: string;
  publishTime?: Timestamp;
  orderingKey?: string;
}

export interface ReceivedMessage {
  ackId: string;
  message: PubsubMessage;
  deliveryAttempt?: number;
}
