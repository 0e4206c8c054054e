import assert from 'node:assert/strict';

/**
 * An `assert.rejects` validator: the error carries gRPC status `code` and, when given, details
 * matching `mentions`.
 */
export const grpcError =
  (code: number, mentions?: RegExp) =>
  (error: { code?: number; details?: string }): true => {
    assert.equal(error.code, code, `expected gRPC status ${code}, got ${error.code}: ${String(error)}`);
    if (mentions) assert.match(error.details ?? '', mentions);
    return true;
  };
