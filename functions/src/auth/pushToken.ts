/**
 * Verifies the OIDC token Pub/Sub puts on each push request (`Authorization: Bearer <jwt>`), with
 * node:crypto only, so a function's cold start loads nothing new: RS256 against the issuer's public
 * keys (a JWKS), issuer, audience, the push service account, expiry.
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/** Issuers Google's push tokens carry (both forms occur). The local emulator signs as the first. */
export const GOOGLE_ISSUERS: readonly string[] = ['https://accounts.google.com', 'accounts.google.com'];

/** Longest Authorization header read; Google's push tokens are about 1 KB. */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** Clock difference allowed between the token's issuer and this instance. */
export const CLOCK_SKEW_SECONDS = 60;

/** What a push must prove. */
export interface PushExpectation {
  /** The `aud` claim: the function's URL (as set on the subscription's oidcToken). */
  audience: string;
  /** The `email` claim: the service account the subscription signs as. */
  serviceAccount: string;
  issuers?: readonly string[];
}

/** Why a push was refused: 401 for no or a bad token, 403 for a good token of someone else. */
export class PushTokenError extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'PushTokenError';
  }
}

/** Looks up a public key by `kid`; resolves undefined when the issuer has no such key. */
export type KeyLookup = (kid: string) => Promise<KeyObject | undefined>;

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function decodeJson(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new PushTokenError(401, `the token's ${what} is not base64url JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PushTokenError(401, `the token's ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The token of an `Authorization: Bearer …` header, or a 401. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === '') throw new PushTokenError(401, 'the request carries no Authorization header');
  if (header.length > MAX_TOKEN_BYTES) throw new PushTokenError(401, `the Authorization header is over ${MAX_TOKEN_BYTES} bytes`);
  const match = /^Bearer +(\S+)$/i.exec(header);
  if (!match) throw new PushTokenError(401, 'the Authorization header is not "Bearer <token>"');
  return match[1]!;
}

/**
 * Checks one token; resolves its claims or rejects with a {@link PushTokenError}. Only RS256 is
 * accepted, whatever the header says (no `none`, no HS256 with the public key as secret).
 */
export async function verifyPushToken(token: string, expected: PushExpectation, keyFor: KeyLookup, nowSeconds: number): Promise<Record<string, unknown>> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => SEGMENT.test(part))) throw new PushTokenError(401, 'the token is not a signed JWT (three base64url parts)');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart, 'header');
  if (header.alg !== 'RS256') throw new PushTokenError(401, `the token's algorithm ${JSON.stringify(header.alg)} is not RS256`);
  if (typeof header.kid !== 'string' || header.kid === '' || header.kid.length > 256) throw new PushTokenError(401, 'the token names no key (kid)');
  const key = await keyFor(header.kid);
  if (key === undefined) throw new PushTokenError(401, 'the token is signed with a key the issuer does not publish');
  const signed = verify('RSA-SHA256', Buffer.from(`${headerPart}.${payloadPart}`), key, Buffer.from(signaturePart, 'base64url'));
  if (!signed) throw new PushTokenError(401, "the token's signature does not verify");
  const claims = decodeJson(payloadPart, 'payload');
  const { exp, iat } = claims;
  if (typeof exp !== 'number' || typeof iat !== 'number' || !Number.isFinite(exp) || !Number.isFinite(iat)) throw new PushTokenError(401, 'the token has no exp or iat');
  if (exp + CLOCK_SKEW_SECONDS < nowSeconds) throw new PushTokenError(401, 'the token has expired');
  if (iat - CLOCK_SKEW_SECONDS > nowSeconds) throw new PushTokenError(401, 'the token is issued in the future');
  if (!(expected.issuers ?? GOOGLE_ISSUERS).includes(claims.iss as string)) throw new PushTokenError(403, `the token's issuer ${JSON.stringify(claims.iss)} is not Google`);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(expected.audience)) throw new PushTokenError(403, `the token's audience is not this function (${expected.audience})`);
  if (claims.email !== expected.serviceAccount || claims.email_verified !== true) {
    throw new PushTokenError(403, `the token is not of the push service account ${expected.serviceAccount}`);
  }
  return claims;
}

/** A JWKS document's RSA signing keys by `kid`. */
export function keysOfJwks(document: unknown): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const list = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('the certificate document has no "keys" list');
  for (const jwk of list as Array<JsonWebKey & { kid?: unknown; use?: unknown }>) {
    if (jwk?.kty !== 'RSA' || typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    try {
      keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
    } catch {
      // An unusable key is left out; the others still verify.
    }
  }
  return keys;
}
