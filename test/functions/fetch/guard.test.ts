import assert from 'node:assert/strict';
import { fetchPage, isPublicAddress, literalHostBlockReason, type FetchError, type FetchOptions } from '../../../functions/src/fetch';
import { PUBLIC_V4, PUBLIC_V4_B, PUBLIC_V6, fence, startSite, tableResolver, type Fence, type Site } from './helpers';
import { normalisedHostName } from '../../../functions/src/fetch/guard';

/** Literal destinations in the spellings the WHATWG URL parser accepts; every one must be refused. */
const BLOCKED_LITERALS: Array<[string, string]> = [
  ['http://127.0.0.1/', 'loopback'],
  ['http://2130706433/', 'loopback, decimal'],
  ['http://0177.0.0.1/', 'loopback, octal'],
  ['http://0x7f.1/', 'loopback, hex short form'],
  ['http://127.1/', 'loopback, short form'],
  ['http://017700000001/', 'loopback, one octal number'],
  ['http://0x7f000001/', 'loopback, one hex number'],
  ['http://１２７.０.０.１/', 'loopback, full-width digits'],
  ['http://%31%32%37.0.0.1/', 'loopback, percent-encoded'],
  ['http://127.0.0.1./', 'loopback, trailing dot'],
  ['http://0/', '0.0.0.0'],
  ['http://169.254.169.254/computeMetadata/v1/', 'metadata server'],
  ['http://2852039166/', 'metadata server, decimal'],
  ['http://0xa9.0xfe.0xa9.0xfe/', 'metadata server, hex octets'],
  ['http://10.0.0.1/', 'RFC 1918 10/8'],
  ['http://172.16.5.4/', 'RFC 1918 172.16/12'],
  ['http://0300.0250.1.1/', 'RFC 1918 192.168/16, octal'],
  ['http://100.64.0.1/', 'CGNAT'],
  ['http://224.0.0.1/', 'multicast'],
  ['http://255.255.255.255/', 'broadcast'],
  ['http://240.0.0.1/', 'reserved 240/4'],
  ['http://192.0.2.1/', 'documentation range'],
  ['http://[::1]/', 'IPv6 loopback'],
  ['http://[::]/', 'IPv6 unspecified'],
  ['http://[0:0:0:0:0:0:0:1]/', 'IPv6 loopback, long form'],
  ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped loopback'],
  ['http://[::ffff:a9fe:a9fe]/', 'IPv4-mapped metadata server, hex'],
  ['http://[::127.0.0.1]/', 'IPv4-compatible loopback'],
  ['http://[::ffff:0:a00:1]/', 'SIIT-translated 10.0.0.1'],
  ['http://[64:ff9b::a9fe:a9fe]/', 'NAT64 metadata server'],
  ['http://[64:ff9b:1::a00:1]/', 'local-use NAT64'],
  ['http://[2002:a9fe:a9fe::1]/', '6to4 carrying the metadata server'],
  ['http://[2001::1]/', 'Teredo'],
  ['http://[fc00::1]/', 'unique local fc00::/7'],
  ['http://[fd12:3456::1]/', 'unique local fd00::/8'],
  ['http://[fe80::1]/', 'IPv6 link-local'],
  ['http://[fec0::1]/', 'IPv6 site-local'],
  ['http://[ff02::1]/', 'IPv6 multicast'],
  ['http://[2001:db8::1]/', 'IPv6 documentation'],
  ['http://localhost/', 'localhost'],
  ['http://LOCALHOST./', 'localhost, upper case with trailing dot'],
  ['http://app.localhost/', '*.localhost'],
  ['http://metadata.google.internal/computeMetadata/v1/', 'metadata by name'],
  ['http://metadata.google.internal./', 'metadata by name, trailing dot'],
  ['http://metadata/', 'metadata, single label'],
  ['http://vm-1.c.my-project.internal/', 'Compute Engine internal DNS'],
  ['http://printer.local/', 'mDNS'],
  ['http://intranet/', 'single-label name'],
];

describe('fetch guard', () => {
  describe('literalHostBlockReason', () => {
    for (const [url, form] of BLOCKED_LITERALS) {
      it(`refuses ${form} (${url})`, () => {
        const reason = literalHostBlockReason(new URL(url).hostname);
        assert.ok(reason, `expected ${url} to be refused`);
      });
    }

    it('normalises raw spellings that were not parsed as a URL yet', () => {
      for (const host of ['0x7f.1', '2130706433', '::1', '[::ffff:127.0.0.1]', 'Metadata.Google.Internal']) {
        assert.ok(literalHostBlockReason(host), host);
      }
    });

    it('drops every trailing dot before the name checks and refuses empty labels', () => {
      for (const host of ['metadata.google.internal..', 'metadata.google.internal.', 'localhost...', '127.0.0.1..', 'foo.internal....']) {
        assert.ok(literalHostBlockReason(host), host);
      }
      for (const host of ['a..b.example', '.example.com']) assert.match(literalHostBlockReason(host) ?? '', /empty label/, host);
      assert.equal(normalisedHostName('Example.COM...'), 'example.com');
      assert.equal(normalisedHostName('a..b'), null);
      assert.equal(literalHostBlockReason('example.com..'), null, 'a public name with trailing dots is left to DNS');
    });

    it('explains the refusal in a sentence', () => {
      assert.match(literalHostBlockReason('169.254.169.254') ?? '', /link-local.*metadata/);
      assert.match(literalHostBlockReason('[::ffff:10.0.0.1]') ?? '', /carries the IPv4 address 10\.0\.0\.1 is a private/);
    });

    it('leaves public hosts to DNS and the address check', () => {
      for (const host of ['example.com', 'www.bbc.co.uk', 'xn--bcher-kva.example', '8.8.8.8', '[2606:4700::1111]', '[::ffff:8.8.8.8]']) {
        assert.equal(literalHostBlockReason(host), null, host);
      }
    });
  });

  describe('isPublicAddress', () => {
    it('accepts public IPv4 and IPv6, including IPv4 carried in NAT64, mapped and 6to4 forms', () => {
      for (const ip of ['8.8.8.8', '1.1.1.1', PUBLIC_V4, PUBLIC_V6, '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) {
        assert.equal(isPublicAddress(ip), true, ip);
      }
    });

    it('refuses private, special and unparseable addresses', () => {
      for (const ip of ['127.0.0.1', '10.1.2.3', '169.254.169.254', 'fe80::1%eth0', 'fd00::1', '4000::1', '::ffff:192.168.0.1', 'not-an-ip', '']) {
        assert.equal(isPublicAddress(ip), false, ip);
      }
    });
  });

  describe('fetchPage with private networks refused', () => {
    let site: Site;
    let net: Fence;
    const resolver = tableResolver({
      'site.example': [PUBLIC_V4],
      'rebind.example': ['127.0.0.1'],
      'meta.example': ['169.254.169.254'],
      'mixed.example': [PUBLIC_V4, '10.0.0.1'],
      'mapped.example': ['::ffff:10.0.0.1'],
      'ula.example': ['fd00::1'],
      'two.example': [PUBLIC_V4_B, PUBLIC_V4],
    });

    before(async () => {
      site = await startSite((req, res) => {
        const to = new URL(req.url ?? '/', 'http://site.example').searchParams.get('to');
        if (to) {
          res.writeHead(302, { location: to }).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html' }).end('<title>ok</title>');
      });
    });
    after(() => site.close());

    beforeEach(() => {
      net = fence();
      net.route(PUBLIC_V4, site.port);
    });
    afterEach(() => assert.deepEqual(net.violations, [], 'a connection to a non-loopback address was attempted'));

    const options = (): Partial<FetchOptions> => ({
      resolver,
      connector: net.connector,
      allowPrivateNetworks: false,
      timeoutMs: 2_000,
    });

    async function refusal(url: string, extra: Partial<FetchOptions> = {}): Promise<FetchError> {
      const error = (await fetchPage(url, { ...options(), ...extra }).then(
        () => assert.fail(`${url} was fetched`),
        (e: unknown) => e,
      )) as FetchError;
      return error;
    }

    it('fetches a public name (the fence routes it to loopback)', async () => {
      const page = await fetchPage('http://site.example/', options());
      assert.equal(page.html, '<title>ok</title>');
      assert.deepEqual(net.attempts, [`${PUBLIC_V4}:80`]);
    });

    for (const [url] of BLOCKED_LITERALS) {
      it(`never connects to ${url}`, async () => {
        const error = await refusal(url);
        assert.equal(error.code, 'blocked-address');
        assert.equal(error.retryable, false);
        assert.deepEqual(net.attempts, []);
      });
    }

    for (const name of ['rebind.example', 'meta.example', 'mixed.example', 'mapped.example', 'ula.example']) {
      it(`refuses ${name}, which resolves to a non-public address`, async () => {
        const error = await refusal(`http://${name}/`);
        assert.equal(error.code, 'blocked-address');
        assert.match(error.message, new RegExp(`${name} resolves to`));
        assert.deepEqual(net.attempts, []);
      });
    }

    const redirectTargets = [
      'http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://rebind.example/',
      'http://[::1]/',
      'http://0x7f.1/',
      'http://[::ffff:169.254.169.254]/',
    ];
    for (const target of redirectTargets) {
      it(`refuses a redirect into ${target}`, async () => {
        const error = await refusal(`http://site.example/?to=${encodeURIComponent(target)}`);
        assert.equal(error.code, 'blocked-address');
        // Only the first hop, to the public test address, was ever connected.
        assert.deepEqual(net.attempts, [`${PUBLIC_V4}:80`]);
      });
    }

    it('refuses ports other than the allowed ones, also after a redirect', async () => {
      assert.equal((await refusal('http://site.example:8080/')).code, 'blocked-port');
      assert.equal((await refusal(`http://site.example/?to=${encodeURIComponent('http://site.example:22/')}`)).code, 'blocked-port');
      const page = await fetchPage('http://site.example:8080/', { ...options(), allowedPorts: [8080] });
      assert.equal(page.status, 200);
    });

    it('refuses schemes other than http and https, also after a redirect', async () => {
      for (const url of ['ftp://site.example/', 'file:///etc/passwd', 'javascript:alert(1)', 'gopher://site.example/']) {
        assert.equal((await refusal(url)).code, 'unsupported-scheme', url);
      }
      assert.equal((await refusal(`http://site.example/?to=${encodeURIComponent('file:///etc/passwd')}`)).code, 'unsupported-scheme');
    });

    it('refuses what is not a URL, and URLs carrying credentials', async () => {
      assert.equal((await refusal('not a url')).code, 'invalid-url');
      assert.equal((await refusal('http://user:secret@site.example/')).code, 'invalid-url');
      assert.deepEqual(net.attempts, []);
    });

    it('connects to the address it checked, and sends the name as TLS server name', async () => {
      const seen: Array<{ hostname: string; servername?: string }> = [];
      const error = await refusal('https://site.example/', {
        connector: (opts, callback) => {
          seen.push({ hostname: opts.hostname, servername: opts.servername });
          callback(new Error('no TLS in tests'), null);
        },
      });
      assert.equal(error.code, 'connection-failed');
      assert.deepEqual(seen, [{ hostname: PUBLIC_V4, servername: 'site.example' }]);
    });

    it('tries the next checked address when one refuses the connection', async () => {
      const closed = await startSite(() => undefined);
      await closed.close();
      net.route(PUBLIC_V4_B, closed.port);
      const page = await fetchPage('http://two.example/', options());
      assert.equal(page.status, 200);
      assert.deepEqual(net.attempts, [`${PUBLIC_V4_B}:80`, `${PUBLIC_V4}:80`]);
    });

    it('resolves names once per hop and never lets the connection resolve them again', async () => {
      resolver.lookups.length = 0;
      await fetchPage('http://site.example/', options());
      assert.deepEqual(resolver.lookups, ['site.example']);
      assert.ok(net.attempts.every((attempt) => attempt.startsWith(`${PUBLIC_V4}:`)));
    });
  });

  describe('fetchPage with the local-development switch on', () => {
    let site: Site;
    let net: Fence;
    before(async () => {
      site = await startSite((req, res) => {
        if (req.url === '/to-metadata') {
          res.writeHead(302, { location: 'http://169.254.169.254/computeMetadata/v1/' }).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html' }).end('<p>local</p>');
      });
    });
    after(() => site.close());
    beforeEach(() => {
      net = fence();
    });
    afterEach(() => assert.deepEqual(net.violations, []));

    const local = (): Partial<FetchOptions> => ({ connector: net.connector, allowPrivateNetworks: true, resolver: tableResolver({ 'meta.example': ['169.254.169.254'] }) });

    it('reaches loopback on any port', async () => {
      const page = await fetchPage(site.url('/'), local());
      assert.equal(page.html, '<p>local</p>');
    });

    it('still refuses the metadata server, by address, by name and after a redirect', async () => {
      for (const url of ['http://169.254.169.254/', 'http://metadata.google.internal/', 'http://meta.example/', 'http://[fe80::1]/', site.url('/to-metadata')]) {
        const error = (await fetchPage(url, local()).catch((e: unknown) => e)) as FetchError;
        assert.equal(error.code, 'blocked-address', url);
      }
      assert.ok(net.attempts.every((attempt) => attempt.startsWith('127.0.0.1:')));
    });
  });
});
