/** The api function's error answers: an HTTP status, a stable code and a sentence a person can act on. */
import { isTransientStorageError } from './store';

/** An answer other than success: HTTP status, stable code, a sentence to act on, optional details. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 404 | 405 | 413 | 415 | 500 | 503,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The answer for a failed Firestore call: 503 with Retry-After when it may work later, else 500. */
export function storageError(error: unknown): ApiError {
  if (isTransientStorageError(error)) {
    return new ApiError(503, 'storage-unavailable', 'The database is unavailable right now; try again in a few seconds.', undefined, { 'Retry-After': '5' });
  }
  return new ApiError(500, 'internal-error', 'Something went wrong on our side; the request was not completed.');
}
