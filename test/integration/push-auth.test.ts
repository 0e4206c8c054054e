/**
 * Push endpoints that trust only Pub/Sub, through the real stack: the embedded emulator signs each
 * push of a subscription with an oidcToken, the functions verify it, and a hand-made request without
 * a token of the push service account for that function is refused with our JSON error, unprocessed.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { memoryLogger } from '../../functions/src/log';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { pushBody, urlMessage } from '../functions/fakes';
import { startArticleSite, type ArticleSite } from '../helpers/articleSite';
import { forEachLane } from '../helpers/lanes';
import { keyOf } from '../helpers/urls';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

forEachLane('push authentication', (lane) => {
  let stack: LocalStack;
  let site: ArticleSite;
  const logs = memoryLogger();

  before(async function () {
    this.timeout(60_000);
    site = await startArticleSite();
    stack = await startLocalStack({ running: lane.emulators(), apiPort: 0, backoff: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1 }, deps: { log: logs.log } });
  });

  after(async function () {
    this.timeout(30_000);
    await stack?.stop();
    await site?.stop();
  });

  if (lane.kind === 'gcloud') {
    it('leaves pushes unverified: the official emulator does not sign them', () => {
      assert.equal(stack.pushServiceAccount, null);
      assert.deepEqual(stack.pushHeaders('scrapeArticle'), {});
    });
    return;
  }

  /** A token like the emulator's for the scraper, with these header and claims changes, signed by `key` (the emulator's by default). */
  function forged(changes: { header?: Record<string, unknown>; claims?: Record<string, unknown>; key?: 'other' | 'none' }): string {
    const genuine = stack.pushHeaders('scrapeArticle').authorization!.slice('Bearer '.length);
    const [headerPart, payloadPart] = genuine.split('.') as [string, string];
    const header = { ...JSON.parse(Buffer.from(headerPart, 'base64url').toString()), ...changes.header };
    const claims = { ...JSON.parse(Buffer.from(payloadPart, 'base64url').toString()), ...changes.claims };
    const input = `${b64(header)}.${b64(claims)}`;
    if (changes.key === 'none') return `${input}.`;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return `${input}.${sign('RSA-SHA256', Buffer.from(input), privateKey).toString('base64url')}`;
  }

  it('runs the pipeline to done with every push verified', async function () {
    this.timeout(30_000);
    assert.match(stack.pushServiceAccount ?? '', /^push-invoker@/);
    const response = await fetch(`${stack.apiUrl}/portfolios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ urls: [site.url('articles', 1)] }) });
    assert.equal(response.status, 202);
    const { portfolioId } = (await response.json()) as { portfolioId: string };
    const deadline = Date.now() + 20_000;
    let status = 'queued';
    while (status === 'queued' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const view = (await (await fetch(`${stack.apiUrl}/portfolios/${portfolioId}`, { headers: { accept: 'application/json' } })).json()) as { articles: Array<{ status: string }> };
      status = view.articles[0]?.status ?? 'queued';
    }
    assert.equal(status, 'done');
    assert.equal(logs.entries.filter((entry) => String(entry.code ?? '').startsWith('push-')).length, 0, 'no signed push was refused');
  });

  const refusals: Array<{ case: string; authorization: () => string | undefined; status: number; code: string }> = [
    { case: 'no token', authorization: () => undefined, status: 401, code: 'push-unauthenticated' },
    { case: 'not a bearer token', authorization: () => 'Basic dXNlcjpwYXNz', status: 401, code: 'push-unauthenticated' },
    { case: 'a token over 8 KiB', authorization: () => `Bearer ${'a'.repeat(9000)}`, status: 401, code: 'push-unauthenticated' },
    { case: 'a token signed by another key with the emulator key id', authorization: () => `Bearer ${forged({ key: 'other' })}`, status: 401, code: 'push-unauthenticated' },
    { case: 'alg none', authorization: () => `Bearer ${forged({ header: { alg: 'none' }, key: 'none' })}`, status: 401, code: 'push-unauthenticated' },
    { case: 'alg HS256', authorization: () => `Bearer ${forged({ header: { alg: 'HS256' }, key: 'other' })}`, status: 401, code: 'push-unauthenticated' },
    { case: 'expired 2 minutes ago', authorization: () => stack.pushHeaders('scrapeArticle', { iat: Math.floor(Date.now() / 1000) - 3720, exp: Math.floor(Date.now() / 1000) - 120 }).authorization, status: 401, code: 'push-unauthenticated' },
    { case: 'issued 2 minutes ahead', authorization: () => stack.pushHeaders('scrapeArticle', { iat: Math.floor(Date.now() / 1000) + 120 }).authorization, status: 401, code: 'push-unauthenticated' },
    { case: 'the recorder audience', authorization: () => stack.pushHeaders('recordDeadLetter').authorization, status: 403, code: 'push-forbidden' },
    { case: 'another audience', authorization: () => stack.pushHeaders('scrapeArticle', { aud: 'https://evil.example/' }).authorization, status: 403, code: 'push-forbidden' },
    { case: 'another service account', authorization: () => stack.pushHeaders('scrapeArticle', { email: 'someone@evil.example' }).authorization, status: 403, code: 'push-forbidden' },
    { case: 'an unverified email', authorization: () => stack.pushHeaders('scrapeArticle', { email_verified: false }).authorization, status: 403, code: 'push-forbidden' },
    { case: 'another issuer', authorization: () => stack.pushHeaders('scrapeArticle', { iss: 'https://evil.example' }).authorization, status: 403, code: 'push-forbidden' },
  ];

  for (const refusal of refusals) {
    it(`refuses a push to the scraper with ${refusal.case}: ${refusal.status} ${refusal.code}, nothing fetched or stored`, async () => {
      const url = site.url('articles', 7);
      const authorization = refusal.authorization();
      const response = await fetch(`${stack.scraperUrl}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
        body: JSON.stringify(pushBody(urlMessage(url), { messageId: `forged-${refusal.case}` })),
      });
      assert.equal(response.status, refusal.status);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, refusal.code);
      assert.match(body.error.message, /Refused a push request/);
      assert.equal(site.hits.get('/articles/7'), undefined);
      assert.equal((await stack.clients.firestore.collection('articles').doc(keyOf(url)).get()).exists, false);
    });
  }

  it('refuses a forged dead letter without a token: the done article stays done', async () => {
    const url = site.url('articles', 1);
    const before = (await stack.clients.firestore.collection('articles').doc(keyOf(url)).get()).data();
    assert.equal(before?.status, 'done');
    const response = await fetch(`${stack.recorderUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...stack.pushHeaders('scrapeArticle') },
      body: JSON.stringify(pushBody(urlMessage(url), { attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '5' } })),
    });
    assert.equal(response.status, 403);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'push-forbidden');
    assert.deepEqual((await stack.clients.firestore.collection('articles').doc(keyOf(url)).get()).data(), before);
  });
});
