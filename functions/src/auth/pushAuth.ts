/**
 * Push endpoints that trust only Pub/Sub: a request whose OIDC token does not prove it comes from
 * the push service account, for this function, is answered 401/403 with our JSON error and never
 * processed. Off when PUSH_AUDIENCE / PUSH_SERVICE_ACCOUNT are unset (a local run without signing).
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { PushAuthConfig } from '../config';
import type { Logger } from '../log';
import { CertsUnavailableError, sharedCerts } from './pushCerts';
import { bearerToken, PushTokenError, verifyPushToken, type KeyLookup } from './pushToken';

type Handler = (req: Request, res: Response) => Promise<void>;

/** Wraps a push handler so that only requests with a valid push token reach it. */
export function verifyingPushes(config: PushAuthConfig | null, log: Logger, target: string, handler: Handler, keyFor?: KeyLookup): Handler {
  if (config === null) return handler;
  const lookup = keyFor ?? sharedCerts(config.jwksUrl);
  return async (req, res) => {
    try {
      await verifyPushToken(bearerToken(req.headers.authorization), config, lookup, Date.now() / 1000);
    } catch (error) {
      if (error instanceof PushTokenError) {
        const code = error.status === 401 ? 'push-unauthenticated' : 'push-forbidden';
        const message = `Refused a push request: ${error.reason}. Only Pub/Sub's push subscriptions, signing as ${config.serviceAccount}, may call this function.`;
        log({ severity: 'WARNING', message: `${target}: ${message}`, code, outcome: String(error.status) });
        res.status(error.status).json({ error: { code, message } });
        return;
      }
      if (error instanceof CertsUnavailableError) {
        // Pub/Sub redelivers: the keys may be reachable on the next attempt.
        const message = `Could not check the push token: ${error.message}; the delivery will be retried.`;
        log({ severity: 'ERROR', message: `${target}: ${message}`, code: 'push-auth-unavailable', outcome: '503' });
        res.status(503).json({ error: { code: 'push-auth-unavailable', message } });
        return;
      }
      throw error;
    }
    return handler(req, res);
  };
}
