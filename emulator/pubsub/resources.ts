import { invalidArgument, notFound } from './errors';
import { parseSubscriptionName, parseTopicName } from './names';
import type { Duration, RetryPolicy, Subscription, Topic } from './types';

/** Documented defaults and limits of the real service (pubsub.proto). */
export const limits = {
  defaultAckDeadlineSeconds: 10,
  minAckDeadlineSeconds: 10,
  maxAckDeadlineSeconds: 600,
  defaultMaxDeliveryAttempts: 5,
  minMaxDeliveryAttempts: 5,
  maxMaxDeliveryAttempts: 100,
  defaultMinimumBackoffSeconds: 10,
  defaultMaximumBackoffSeconds: 600,
  maxBackoffSeconds: 600,
  defaultRetentionSeconds: 7 * 24 * 3600,
  minRetentionSeconds: 600,
  maxRetentionSeconds: 31 * 24 * 3600,
  defaultExpirationTtlSeconds: 31 * 24 * 3600,
  maxFilterBytes: 256,
} as const;

/** The topic name a subscription shows once its topic has been deleted. */
export const deletedTopic = '_deleted-topic_';

export const durationSeconds = (duration: Duration | null | undefined): number =>
  (Number(duration?.seconds ?? 0) || 0) + (duration?.nanos ?? 0) / 1e9;

const seconds = (value: number): Duration => {
  const whole = Math.floor(value);
  return { seconds: whole, nanos: Math.round((value - whole) * 1e9) };
};

/** Validates a CreateTopic request and fills the output-only fields. */
export function normalizeTopic(input: Topic): Topic {
  parseTopicName(input.name, 'name');
  const topic: Topic = { name: input.name, labels: { ...(input.labels ?? {}) }, state: 'ACTIVE' };
  if (input.messageRetentionDuration) {
    checkRetention(input.messageRetentionDuration, 'message_retention_duration');
    topic.messageRetentionDuration = input.messageRetentionDuration;
  }
  if (input.kmsKeyName) topic.kmsKeyName = input.kmsKeyName;
  if (input.messageStoragePolicy) topic.messageStoragePolicy = input.messageStoragePolicy;
  // Checked against the schema registry by the broker.
  if (input.schemaSettings) topic.schemaSettings = input.schemaSettings;
  return topic;
}

/** Fields UpdateTopic may change, by their snake_case mask path. */
const updatableTopicFields: Record<string, keyof Topic> = {
  labels: 'labels',
  message_storage_policy: 'messageStoragePolicy',
  kms_key_name: 'kmsKeyName',
  schema_settings: 'schemaSettings',
  message_retention_duration: 'messageRetentionDuration',
};

/**
 * Applies the fields named in `paths` from `update` onto `current` (a field named but absent in
 * `update` is cleared, as on the real service). Throws INVALID_ARGUMENT for an empty mask or a field
 * that can't be updated.
 */
export function applyTopicUpdate(current: Topic, update: Topic, paths: string[]): Topic {
  return applyMask(current, update, paths, updatableTopicFields, 'UpdateTopicRequest');
}

function checkRetention(duration: Duration, field: string): void {
  const value = durationSeconds(duration);
  if (value < limits.minRetentionSeconds || value > limits.maxRetentionSeconds) {
    throw invalidArgument(`Invalid ${field}: ${value}s. It must be between 10 minutes and 31 days.`);
  }
}

function normalizeRetryPolicy(policy: RetryPolicy): RetryPolicy {
  const min = policy.minimumBackoff ? durationSeconds(policy.minimumBackoff) : limits.defaultMinimumBackoffSeconds;
  const max = policy.maximumBackoff ? durationSeconds(policy.maximumBackoff) : limits.defaultMaximumBackoffSeconds;
  for (const [field, value] of [
    ['minimum_backoff', min],
    ['maximum_backoff', max],
  ] as const) {
    if (value < 0 || value > limits.maxBackoffSeconds) {
      throw invalidArgument(`Invalid retry_policy.${field}: ${value}s. It must be between 0 and 600 seconds.`);
    }
  }
  if (min > max) {
    throw invalidArgument(`Invalid retry_policy: minimum_backoff (${min}s) is greater than maximum_backoff (${max}s).`);
  }
  return { minimumBackoff: seconds(min), maximumBackoff: seconds(max) };
}

function checkPushEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalidArgument(`Invalid push_config.push_endpoint: "${endpoint}" is not an absolute URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArgument(`Invalid push_config.push_endpoint: "${endpoint}" must be an http(s) URL.`);
  }
}

/**
 * Validates a subscription as CreateSubscription (or the result of an UpdateSubscription) and fills
 * in the defaults the real service reports back. `topicExists` answers for the dead-letter topic.
 */
export function normalizeSubscription(
  input: Subscription,
  topicExists: (name: string) => boolean,
  { keepTopic = false }: { keepTopic?: boolean } = {},
): Subscription {
  parseSubscriptionName(input.name, 'name');
  if (!(keepTopic && input.topic === deletedTopic)) parseTopicName(input.topic, 'topic');

  const ackDeadlineSeconds = input.ackDeadlineSeconds || limits.defaultAckDeadlineSeconds;
  if (ackDeadlineSeconds < limits.minAckDeadlineSeconds || ackDeadlineSeconds > limits.maxAckDeadlineSeconds) {
    throw invalidArgument(
      `Invalid ack_deadline_seconds: ${ackDeadlineSeconds}. It must be between 10 and 600 seconds (0 means 10).`,
    );
  }
  const sub: Subscription = {
    name: input.name,
    topic: input.topic,
    pushConfig: {},
    ackDeadlineSeconds,
    retainAckedMessages: input.retainAckedMessages ?? false,
    messageRetentionDuration: input.messageRetentionDuration ?? seconds(limits.defaultRetentionSeconds),
    labels: { ...(input.labels ?? {}) },
    enableMessageOrdering: input.enableMessageOrdering ?? false,
    expirationPolicy: input.expirationPolicy ?? { ttl: seconds(limits.defaultExpirationTtlSeconds) },
    filter: input.filter ?? '',
    detached: input.detached ?? false,
    enableExactlyOnceDelivery: input.enableExactlyOnceDelivery ?? false,
    state: 'ACTIVE',
  };
  if (input.messageRetentionDuration) checkRetention(input.messageRetentionDuration, 'message_retention_duration');
  if (Buffer.byteLength(sub.filter ?? '') > limits.maxFilterBytes) {
    throw invalidArgument('Invalid filter: it is longer than 256 bytes.');
  }

  const push = input.pushConfig;
  if (push?.pushEndpoint) {
    checkPushEndpoint(push.pushEndpoint);
    sub.pushConfig = { pushEndpoint: push.pushEndpoint, attributes: { ...(push.attributes ?? {}) } };
    if (push.noWrapper) sub.pushConfig.noWrapper = { writeMetadata: push.noWrapper.writeMetadata ?? false };
    if (push.oidcToken) sub.pushConfig.oidcToken = push.oidcToken;
  }

  // A policy without a topic is how clients clear the dead-letter policy.
  const deadLetter = input.deadLetterPolicy;
  if (deadLetter?.deadLetterTopic) {
    parseTopicName(deadLetter.deadLetterTopic, 'dead_letter_policy.dead_letter_topic');
    const maxDeliveryAttempts = deadLetter.maxDeliveryAttempts || limits.defaultMaxDeliveryAttempts;
    if (maxDeliveryAttempts < limits.minMaxDeliveryAttempts || maxDeliveryAttempts > limits.maxMaxDeliveryAttempts) {
      throw invalidArgument(
        `Invalid dead_letter_policy.max_delivery_attempts: ${maxDeliveryAttempts}. It must be between 5 and 100 (0 means 5).`,
      );
    }
    if (!topicExists(deadLetter.deadLetterTopic)) {
      throw notFound(
        `Dead-letter topic not found (resource=${deadLetter.deadLetterTopic}). Create it before referring to it.`,
      );
    }
    sub.deadLetterPolicy = { deadLetterTopic: deadLetter.deadLetterTopic, maxDeliveryAttempts };
  }
  if (input.retryPolicy) sub.retryPolicy = normalizeRetryPolicy(input.retryPolicy);
  return sub;
}

/** Fields UpdateSubscription may change, by their snake_case mask path. */
const updatableFields: Record<string, keyof Subscription> = {
  ack_deadline_seconds: 'ackDeadlineSeconds',
  push_config: 'pushConfig',
  dead_letter_policy: 'deadLetterPolicy',
  retry_policy: 'retryPolicy',
  labels: 'labels',
  message_retention_duration: 'messageRetentionDuration',
  retain_acked_messages: 'retainAckedMessages',
  expiration_policy: 'expirationPolicy',
  enable_exactly_once_delivery: 'enableExactlyOnceDelivery',
  detached: 'detached',
};

const snakeCase = (path: string): string => path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * Applies the fields named in `paths` from `update` onto `current` (a field named but absent in
 * `update` is reset to its default, as on the real service). Throws INVALID_ARGUMENT for an empty mask
 * or a field that can't be updated.
 */
export function applySubscriptionUpdate(current: Subscription, update: Subscription, paths: string[]): Subscription {
  if (paths.map(snakeCase).includes('filter')) {
    // The real service documents the filter as immutable after creation.
    throw invalidArgument('Invalid update_mask: the filter of a subscription cannot be changed after it is created.');
  }
  return applyMask(current, update, paths, updatableFields, 'UpdateSubscriptionRequest');
}

function applyMask<T extends object>(
  current: T,
  update: T,
  paths: string[],
  fields: Record<string, keyof T>,
  request: string,
): T {
  if (paths.length === 0) {
    throw invalidArgument(`Invalid update_mask in the ${request}: it must name at least one field to update.`);
  }
  const next: T = { ...current };
  for (const raw of paths) {
    const field = fields[snakeCase(raw)];
    if (!field) {
      throw invalidArgument(
        `Invalid update_mask in the ${request}: the field "${raw}" cannot be updated. Updatable fields: ${Object.keys(fields).join(', ')}.`,
      );
    }
    next[field] = update[field];
  }
  return next;
}
