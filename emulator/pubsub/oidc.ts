/** Signs push requests of subscriptions with an `oidcToken` as Google does, with a key made at start; serves its JWKS on loopback. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { Subscription } from './types';

/** The issuer real push tokens carry. */
export const PUSH_TOKEN_ISSUER = 'https://accounts.google.com';

/** The claims of one push token (Google's shape); tests may override any. */
export type PushTokenClaims = Record<string, unknown>;

/** The emulator's signing key and where its public half is published. */
export interface PushSigner {
  /** `http://127.0.0.1:PORT/oauth2/v3/certs`: the JWKS to verify against (PUSH_JWKS_URL). */
  jwksUrl: string;
  /** Starts making the key on the thread pool (the emulator calls it once it listens); idempotent. */
  prepareKey(): void;
  /** A signed RS256 JWT of `claims` with this key's kid. */
  sign(claims: PushTokenClaims): string;
  /** The Authorization header for a push of `subscription` to `endpoint`, or undefined when it has no oidcToken. */
  authorizationFor(subscription: Subscription, endpoint: string): string | undefined;
  close(): Promise<void>;
}

/** What others see of the signer: where its keys are, and signing (for tests that forge claims). */
export type PushSigning = Pick<PushSigner, 'jwksUrl' | 'sign'>;

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Google's push token for this subscription: aud is the oidcToken's audience, else the endpoint URL; valid 1 h. */
export function pushClaims(oidcToken: { serviceAccountEmail?: string; audience?: string }, endpoint: string, nowSeconds: number): PushTokenClaims {
  return {
    iss: PUSH_TOKEN_ISSUER,
    aud: oidcToken.audience || endpoint,
    azp: 'emulator',
    sub: 'emulator',
    email: oidcToken.serviceAccountEmail ?? '',
    email_verified: true,
    iat: nowSeconds,
    exp: nowSeconds + 3600,
  };
}

function signWith(privateKey: KeyObject, kid: string, claims: PushTokenClaims): string {
  const signingInput = `${b64({ alg: 'RS256', kid, typ: 'JWT' })}.${b64(claims)}`;
  return `${signingInput}.${sign('RSA-SHA256', Buffer.from(signingInput), privateKey).toString('base64url')}`;
}

interface SigningKey {
  privateKey: KeyObject;
  kid: string;
  /** The JWKS document with the public half. */
  jwks: string;
}

function signingKey(privateKey: KeyObject, publicKey: KeyObject): SigningKey {
  const kid = randomBytes(8).toString('hex');
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] });
  return { privateKey, kid, jwks };
}

/**
 * Makes a key pair and serves its JWKS on a free loopback port (never beyond this machine). The key
 * (2048 bits, as Google's) takes 50–300 ms of CPU to make, more than the rest of the emulator's start:
 * it is made on the thread pool once the emulator listens ({@link PushSigner.prepareKey}), and on the
 * spot by whatever needs it before it is ready.
 */
export async function startPushSigner(host = '127.0.0.1'): Promise<PushSigner> {
  let key: SigningKey | null = null;
  let making: Promise<void> | null = null;
  const prepareKey = (): Promise<void> =>
    (making ??= new Promise<void>((resolve) => {
      generateKeyPair('rsa', { modulusLength: 2048 }, (error, publicKey, privateKey) => {
        if (!error) key ??= signingKey(privateKey, publicKey);
        resolve();
      });
    }));
  const keyNow = (): SigningKey => {
    if (!key) {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      key = signingKey(pair.privateKey, pair.publicKey);
    }
    return key;
  };
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/oauth2/v3/certs') {
      void prepareKey().then(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' }).end(keyNow().jwks);
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = host.includes(':') ? `[${host}]` : host;
  return {
    jwksUrl: `http://${address}:${(server.address() as AddressInfo).port}/oauth2/v3/certs`,
    prepareKey: () => void prepareKey(),
    sign: (claims) => {
      const { privateKey, kid } = keyNow();
      return signWith(privateKey, kid, claims);
    },
    authorizationFor: (subscription, endpoint) => {
      const oidcToken = subscription.pushConfig?.oidcToken;
      if (!oidcToken) return undefined;
      const { privateKey, kid } = keyNow();
      return `Bearer ${signWith(privateKey, kid, pushClaims(oidcToken, endpoint, Math.floor(Date.now() / 1000)))}`;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
