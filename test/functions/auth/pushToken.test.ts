import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { bearerToken, keysOfJwks, PushTokenError, verifyPushToken, type KeyLookup } from '../../../functions/src/auth/pushToken';

const NOW = 1_800_000_000;
const expected = { audience: 'https://scrape-article-abc-ew.a.run.app', serviceAccount: 'push@p.iam.gserviceaccount.com' };
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keys: KeyLookup = async (kid) => (kid === 'k1' ? publicKey : undefined);
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function token(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key = privateKey): string {
  const input = `${b64({ alg: 'RS256', kid: 'k1', typ: 'JWT', ...header })}.${b64({ iss: 'https://accounts.google.com', aud: expected.audience, email: expected.serviceAccount, email_verified: true, iat: NOW - 10, exp: NOW + 3590, ...claims })}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), key).toString('base64url')}`;
}

async function refusal(jwt: string): Promise<{ status: number; reason: string }> {
  try {
    await verifyPushToken(jwt, expected, keys, NOW);
  } catch (error) {
    assert.ok(error instanceof PushTokenError, String(error));
    return { status: error.status, reason: error.reason };
  }
  throw new Error('accepted');
}

describe('push token verification', () => {
  it("accepts Google's push token, with either issuer form and up to 60 s of clock skew", async () => {
    assert.equal((await verifyPushToken(token(), expected, keys, NOW)).email, expected.serviceAccount);
    await verifyPushToken(token({ iss: 'accounts.google.com' }), expected, keys, NOW);
    await verifyPushToken(token({ exp: NOW - 59 }), expected, keys, NOW);
    await verifyPushToken(token({ iat: NOW + 59 }), expected, keys, NOW);
  });

  it('refuses a bad token with 401', async () => {
    const cases: Array<[string, string]> = [
      ['expired', token({ exp: NOW - 61 })],
      ['future', token({ iat: NOW + 61 })],
      ['no exp', token({ exp: undefined })],
      ['other key', token({}, {}, other.privateKey)],
      ['unknown kid', token({}, { kid: 'k2' })],
      ['alg none', `${token({}, { alg: 'none' }).split('.').slice(0, 2).join('.')}.`],
      ['alg HS256', token({}, { alg: 'HS256' })],
      ['two parts', token().split('.').slice(0, 2).join('.')],
      ['tampered claims', token().replace(/\.[^.]+\./, `.${b64({ aud: expected.audience })}.`)],
    ];
    for (const [what, jwt] of cases) assert.equal((await refusal(jwt)).status, 401, what);
  });

  it("refuses someone else's valid token with 403", async () => {
    for (const claims of [{ aud: 'https://other.example' }, { email: 'x@evil.example' }, { email_verified: false }, { iss: 'https://evil.example' }]) {
      assert.equal((await refusal(token(claims))).status, 403, JSON.stringify(claims));
    }
  });

  it('reads only a Bearer header of at most 8 KiB', () => {
    assert.equal(bearerToken('Bearer a.b.c'), 'a.b.c');
    for (const header of [undefined, '', 'Basic x', 'Bearer', `Bearer ${'a'.repeat(8200)}`]) {
      assert.throws(() => bearerToken(header), (error: unknown) => error instanceof PushTokenError && error.status === 401);
    }
  });

  it('keeps the RSA signing keys of a JWKS by kid', () => {
    const jwk = publicKey.export({ format: 'jwk' });
    const map = keysOfJwks({ keys: [{ ...jwk, kid: 'k1', use: 'sig' }, { ...jwk, kid: 'enc', use: 'enc' }, { kty: 'EC', kid: 'ec' }] });
    assert.deepEqual([...map.keys()], ['k1']);
    assert.ok(map.get('k1')!.equals(createPublicKey({ key: jwk, format: 'jwk' })));
    assert.throws(() => keysOfJwks({}));
  });
});
