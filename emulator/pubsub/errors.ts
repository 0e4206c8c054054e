import { status } from '@grpc/grpc-js';

/**
 * An error the emulator answers an RPC with. `code` is the gRPC status the real service uses for the
 * same mistake, so client code that branches on `err.code` behaves the same locally and in the cloud.
 */
export class PubSubApiError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'PubSubApiError';
  }
}

export const invalidArgument = (message: string): PubSubApiError =>
  new PubSubApiError(status.INVALID_ARGUMENT, message);

export const notFound = (message: string): PubSubApiError => new PubSubApiError(status.NOT_FOUND, message);

export const alreadyExists = (message: string): PubSubApiError =>
  new PubSubApiError(status.ALREADY_EXISTS, message);

export const failedPrecondition = (message: string): PubSubApiError =>
  new PubSubApiError(status.FAILED_PRECONDITION, message);

/** UNIMPLEMENTED naming what the Node-native emulator does not do. */
export const unimplemented = (message: string): PubSubApiError => new PubSubApiError(status.UNIMPLEMENTED, message);
