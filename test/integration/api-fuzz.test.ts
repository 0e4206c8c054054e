/**
 * POST /portfolios under generated input, on the local stack: functions-framework's own server (its
 * body parsers included), the real emulators, private networks not allowed. The scraper's push
 * subscription is removed, so whatever is accepted is published and never fetched.
 *
 * Every answer is 202 or 4xx. A 4xx is our JSON error with a known code, except where
 * functions-framework's body parser refuses the body before the function runs (malformed JSON under
 * application/json, an unknown charset, a broken or unknown Content-Encoding, a form body qs can't
 * take): those are counted apart and must carry no stack trace. A 202 accounts for every URL
 * submitted, and its status URL counts every accepted one.
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { startLocalStack, type LocalStack } from '../../emulator/stack';
import { memoryLogger } from '../../functions/src/log';
import { forEachLane } from '../helpers/lanes';
import { rawRequest, type RawResponse } from '../helpers/rawHttp';

// Every request on the embedded lane; fewer on the official emulators, which store the same strings.
const RUNS = { embedded: 1000, gcloud: 300 } as const;
const MAX_URLS = 1000;
// A quarter of the default 1 MiB, so the over-limit bodies stay cheap to build and send; the
// check is the same code at any limit.
const MAX_BODY_BYTES = 256 * 1024;

const OUR_CODES = new Set(['invalid-body', 'no-urls', 'no-acceptable-urls', 'body-too-large', 'too-many-urls', 'portfolio-too-large', 'unsupported-media-type', 'compressed-body']);
const URL_CODES = new Set(['invalid-url', 'unsupported-scheme', 'missing-host', 'credentials-in-url', 'url-too-long', 'blocked-address', 'blocked-port']);

/** One generated request and what the API can be expected to make of it. */
interface FuzzCase {
  kind: string;
  headers: Record<string, string>;
  body: Buffer | null;
  chunkBytes?: number;
  /** URLs in the submission as meant; null when the body is no submission (a 202 is then wrong). */
  submitted: number | null;
  /** functions-framework's body parser may refuse it before our code runs. */
  frameworkMay: boolean;
  /** The error code we must answer with, where the input decides it. */
  expect?: string;
}

// ---- URLs -------------------------------------------------------------------------------------

/** Stands for a spot that becomes invalid UTF-8 once the body is encoded (see `encode`). */
const BAD_BYTES = '\uE000';
const INVALID_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])];

const scheme = fc.constantFrom('http://', 'https://', 'HTTPS://', 'hTtP://', 'ftp://', 'javascript:', 'http:/', 'http:', '//', '', 'file:///', 'data:text/html,');
const host = fc.oneof(
  fc.domain(),
  fc.integer({ min: 1, max: 40 }).map((n) => `site-${n}.example`),
  fc.constantFrom(
    'bücher.example', 'пример.испытание', '例え.テスト', 'xn--bcher-kva.example', 'EXAMPLE.COM', 'example.com.', 'ｅｘａｍｐｌｅ.com',
    'a..b', '-x-.example', 'ex ample.com', '%65xample.com', 'xn--.example', `${'a'.repeat(64)}.example`, `${'label.'.repeat(50)}example`,
    '[::1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[fd00::1]', '[fe80::1%25eth0]', '[2606:4700::1111]', '[::]', '[::ffff:10.0.0.1]',
    '169.254.169.254', '10.1.2.3', '192.168.0.1', '127.0.0.1', '0x7f.1', '2130706433', '0177.0.0.1', '8.8.8.8', '0.0.0.0',
    'localhost', 'metadata.google.internal', 'printer.local', 'intranet',
  ),
  fc.ipV4(),
  fc.ipV6().map((ip) => `[${ip}]`),
);
const userinfo = fc.constantFrom('', '', '', 'user@', 'user:pass@', ':@', '%40@', 'a b@');
const port = fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 70_000 }).map((n) => `:${n}`), fc.constantFrom(':', ':80', ':443', ':http', ':-1', ':0080'));
const segment = fc.oneof(
  fc.webSegment(),
  fc.constantFrom('%', '%zz', '%00', '%2e%2e', '..', '.', '%E2%82%AC', '€', ' ', '\t', '\\', '%ED%A0%80', BAD_BYTES, '\ud800', '\u{1F600}', '\u0000', '\u202e'),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);
const path = fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`);
const query = fc.oneof(
  fc.constant(''),
  fc.webQueryParameters().map((q) => `?${q}`),
  fc.constantFrom('?utm_source=x&id=1', '?fbclid=1', '?a=%zz&utm_medium=', '?&&', '?a=1#frag'),
);
const fragment = fc.oneof(fc.constant(''), fc.webFragments().map((f) => `#${f}`));
const assembled = fc.tuple(scheme, userinfo, host, port, path, query, fragment).map((parts) => parts.join(''));
const longUrl = fc
  .tuple(fc.integer({ min: 1_900, max: 2_300 }), fc.constantFrom('a', 'é', '%41', '/'))
  .map(([length, unit]) => `https://long.example/${unit.repeat(Math.ceil(length / unit.length))}`.slice(0, length));
const padding = fc.constantFrom('', '', ' ', '\t', '\u00a0', '\ufeff', '  \u3000');

const url = fc
  .tuple(
    padding,
    fc.oneof(
      { weight: 5, arbitrary: assembled },
      { weight: 3, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true, authoritySettings: { withIPv4: true, withIPv6: true, withIPv4Extended: true, withUserInfo: true, withPort: true } }) },
      { weight: 1, arbitrary: longUrl },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
      { weight: 1, arbitrary: fc.constantFrom('', ' ', '#not a comment in JSON', 'https://example.com/\ud800', 'https://example.com/\udc00x', 'http://[::1', 'https://exa mple.com/', 'HTTPS://EXAMPLE.COM:443/A') },
    ),
    padding,
  )
  .map((parts) => parts.join(''));

/** A list of URLs with some repeated (duplicates must be counted, once each). */
function urlList(maxLength: number): fc.Arbitrary<string[]> {
  return fc
    .tuple(fc.array(url, { minLength: 1, maxLength }), fc.array(fc.nat(), { maxLength: 4 }))
    .map(([base, picks]) => [...base, ...picks.map((pick) => base[pick % base.length] ?? '')]);
}

// ---- Bodies -----------------------------------------------------------------------------------

/** UTF-8 (or UTF-16LE) bytes of `text`, each BAD_BYTES spot replaced by an invalid UTF-8 sequence. */
function encode(text: string, charset: 'utf-8' | 'utf-16le', badIndex: number): Buffer {
  if (charset === 'utf-16le') return Buffer.from(text.replaceAll(BAD_BYTES, '\ufffd'), 'utf16le');
  const pieces = text.split(BAD_BYTES).map((piece) => Buffer.from(piece, 'utf8'));
  const out: Buffer[] = [];
  pieces.forEach((piece, index) => {
    if (index > 0) out.push(INVALID_UTF8[(badIndex + index) % INVALID_UTF8.length] ?? Buffer.alloc(0));
    out.push(piece);
  });
  return Buffer.concat(out);
}

const name = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 190, maxLength: 260 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, 42, true, ['a'], { nested: 'x' }, '', '   ', 'a\ud800', `x${BAD_BYTES}y`, '\u0000') },
);

function nested(depth: number, leaf: unknown, asObject: boolean): string {
  const leafText = JSON.stringify(leaf);
  return asObject ? `${'{"a":'.repeat(depth)}${leafText}${'}'.repeat(depth)}` : `${'['.repeat(depth)}${leafText}${']'.repeat(depth)}`;
}

/** JSON text and what it means: how many URLs, or which error it must get. */
interface JsonBody {
  kind: string;
  text: string;
  submitted: number | null;
  /** Not an object or array at the top: body-parser's strict mode refuses it. */
  strictViolation?: boolean;
  expect?: string;
}

const jsonBody: fc.Arbitrary<JsonBody> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(urlList(12), name).map(([urls, n]): JsonBody => ({ kind: 'json-submission', text: JSON.stringify({ urls, name: n }), submitted: urls.length })) },
  {
    weight: 1,
    arbitrary: fc.tuple(urlList(6), fc.integer({ min: 10, max: 20_000 }), fc.boolean()).map(([urls, depth, asObject]): JsonBody => ({
      kind: 'json-deep-extra-field',
      text: `{"urls":${JSON.stringify(urls)},"extra":${nested(depth, 'x', asObject)}}`,
      submitted: urls.length,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean()).map(([depth, asObject]): JsonBody => ({
      kind: 'json-deep-urls',
      text: `{"urls":[${nested(depth, 'https://example.com/', asObject)}]}`,
      submitted: null,
      expect: 'invalid-body',
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.record({ urls: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object(), fc.boolean()) }),
        fc.record({ urls: fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.object(), fc.array(fc.string())), { minLength: 1, maxLength: 5 }) }),
        fc.record({ url: url }),
        fc.array(url, { maxLength: 4 }),
        fc.constant({}),
      )
      .map((value): JsonBody => ({ kind: 'json-wrong-type', text: JSON.stringify(value), submitted: null, expect: 'invalid-body' })),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.double({ noNaN: true })).map(
      (value): JsonBody => ({ kind: 'json-scalar', text: JSON.stringify(value), submitted: null, strictViolation: true }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value): JsonBody => {
      const text = JSON.stringify(value);
      return { kind: 'json-any-value', text, submitted: null, strictViolation: !/^[[{]/.test(text) };
    }),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: MAX_URLS + 1, max: 3_000 }), fc.boolean()).map(([count, strings]): JsonBody => ({
      kind: 'json-huge-array',
      text: JSON.stringify({ urls: Array.from({ length: count }, (_, index) => (strings ? `https://huge.example/${index}` : index)) }),
      submitted: null,
      expect: strings ? 'too-many-urls' : 'invalid-body',
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: MAX_BODY_BYTES + 1, max: MAX_BODY_BYTES + 50_000 }).map((bytes): JsonBody => {
      const head = '{"urls":["https://big.example/"],"pad":"';
      return { kind: 'json-too-large', text: `${head}${'x'.repeat(bytes - head.length - 2)}"}`, submitted: null, expect: 'body-too-large' };
    }),
  },
);

/** How the JSON text is spoiled on its way. `intact` ones keep its meaning. */
interface Spoiling {
  kind: string;
  intact: boolean;
  at?: number;
  tail?: string;
}
const jsonSpoiling: fc.Arbitrary<Spoiling> = fc.oneof(
  { weight: 10, arbitrary: fc.constant({ kind: 'none', intact: true }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bom', intact: true }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'whitespace', intact: true }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 0.999, noNaN: true }).map((at) => ({ kind: 'truncated', intact: false, at })) },
  { weight: 1, arbitrary: fc.constantFrom(' x', '}', ',', '\u0000', ']]').map((tail) => ({ kind: 'trailing-garbage', intact: false, tail })) },
);

const jsonContentType = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON; Charset=UTF-8', 'application/json;charset="utf-8"', 'application/json; boundary=x') },
  { weight: 1, arbitrary: fc.constant('application/json; charset=utf-16le') },
  { weight: 1, arbitrary: fc.constantFrom('application/json; charset=latin1', 'application/json; charset=klingon', 'application/json; charset=') },
  { weight: 2, arbitrary: fc.constantFrom('text/plain', 'text/plain; charset=utf-8') },
  { weight: 2, arbitrary: fc.constantFrom(undefined, 'text/json', 'application/ld+json', 'application/xml', 'application/octet-stream', 'multipart/form-data; boundary=x', 'text/html', '*/*', 'json', ';', 'application/json+x') },
  { weight: 1, arbitrary: fc.constant('application/x-www-form-urlencoded') },
);

type Encoding = { header?: string; apply: (body: Buffer) => Buffer; intact: boolean };
const contentEncoding: fc.Arbitrary<Encoding> = fc.oneof(
  // Uncompressed bodies weigh more since compressed ones are all refused alike (415 compressed-body).
  { weight: 40, arbitrary: fc.constant<Encoding>({ apply: (body) => body, intact: true }) },
  { weight: 1, arbitrary: fc.constant<Encoding>({ header: 'identity', apply: (body) => body, intact: true }) },
  { weight: 1, arbitrary: fc.constant<Encoding>({ header: 'gzip', apply: (body) => zlib.gzipSync(body), intact: true }) },
  { weight: 1, arbitrary: fc.constant<Encoding>({ header: 'deflate', apply: (body) => zlib.deflateSync(body), intact: true }) },
  { weight: 1, arbitrary: fc.constant<Encoding>({ header: 'br', apply: (body) => zlib.brotliCompressSync(body), intact: true }) },
  { weight: 1, arbitrary: fc.constant<Encoding>({ header: 'gzip', apply: (body) => body, intact: false }) },
  { weight: 1, arbitrary: fc.constant<Encoding>({ header: 'gzip', apply: (body) => zlib.gzipSync(body).subarray(0, 12), intact: false }) },
  { weight: 1, arbitrary: fc.constantFrom('zstd', 'compress', 'gzip, gzip', 'x-gzip', 'GZIP, br').map((header): Encoding => ({ header, apply: (body) => body, intact: false })) },
);

const transfer = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4096 }) });

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Any Content-Encoding but identity is refused, unread, before the framework could inflate it. */
function compressedRefused(fuzz: FuzzCase, encoding: Encoding): FuzzCase {
  if (!encoding.header || encoding.header.trim().toLowerCase() === 'identity') return fuzz;
  return { ...fuzz, submitted: null, frameworkMay: false, expect: 'compressed-body' };
}

const jsonCase: fc.Arbitrary<FuzzCase> = fc
  .tuple(jsonBody, jsonSpoiling, jsonContentType, contentEncoding, transfer, fc.nat())
  .map(([json, spoiling, contentType, encoding, chunkBytes, badIndex]) => {
    let text = json.text;
    if (spoiling.kind === 'bom') text = `\ufeff${text}`;
    if (spoiling.kind === 'whitespace') text = ` \n\t${text}\r\n `;
    if (spoiling.kind === 'truncated') text = text.slice(0, Math.floor(text.length * (spoiling.at ?? 0)));
    if (spoiling.kind === 'trailing-garbage') text = `${text}${spoiling.tail ?? ''}`;
    const type = mediaType(contentType);
    const charset = /charset=utf-16le/i.test(contentType ?? '') ? 'utf-16le' : 'utf-8';
    const plain = encode(text, charset, badIndex);
    const bytes = encoding.apply(plain);
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (encoding.header) headers['content-encoding'] = encoding.header;
    const fuzz: FuzzCase = { kind: `${json.kind}/${spoiling.kind}`, headers, body: bytes, chunkBytes, submitted: null, frameworkMay: false };
    // Every body parser of the framework, raw() included, decodes Content-Encoding first.
    if (!encoding.intact) fuzz.frameworkMay = true;
    if (type === 'application/json') {
      const unknownCharset = /charset=(latin1|klingon)/i.test(contentType ?? '');
      const meaningful = spoiling.intact && encoding.intact && !unknownCharset && json.strictViolation !== true;
      // An empty charset parameter: the framework may refuse the header or read it as UTF-8.
      if (!meaningful || /charset=(;|$)/i.test(contentType ?? '')) fuzz.frameworkMay = true;
      if (meaningful) {
        fuzz.submitted = json.submitted;
        fuzz.expect = plain.length > MAX_BODY_BYTES ? 'body-too-large' : json.expect;
      }
    } else if (type === 'text/plain') {
      // Read as text, JSON is mostly one line: one URL (an unacceptable one).
      if (encoding.intact) {
        fuzz.submitted = text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.trim().startsWith('#')).length;
        if (plain.length > MAX_BODY_BYTES) fuzz.expect = 'body-too-large';
      }
    } else {
      // qs may refuse a form body first; over the byte limit, the size may be checked first.
      if (type === 'application/x-www-form-urlencoded') fuzz.frameworkMay = true;
      if (encoding.intact && plain.length <= MAX_BODY_BYTES) fuzz.expect = 'unsupported-media-type';
    }
    return compressedRefused(fuzz, encoding);
  });

/** One line of a text/plain body: a URL, a comment or a blank. */
const textLine = fc.oneof(
  { weight: 6, arbitrary: url.filter((line) => !line.includes('\n')) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '# my posts', '  #indented comment', '\t') },
);

const textCharset = fc.constantFrom<[string, 'utf-8' | 'utf-16le' | 'ascii-only' | 'unknown']>(
  ['text/plain', 'utf-8'],
  ['text/plain; charset=utf-8', 'utf-8'],
  ['TEXT/PLAIN; CHARSET=UTF-8', 'utf-8'],
  ['text/plain; charset=utf-16le', 'utf-16le'],
  ['text/plain; charset=iso-8859-1', 'ascii-only'],
  ['text/plain; charset=us-ascii', 'ascii-only'],
  ['text/plain; charset=klingon', 'unknown'],
);

const textCase: fc.Arbitrary<FuzzCase> = fc
  .tuple(fc.array(textLine, { maxLength: 15 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), textCharset, contentEncoding, transfer, fc.nat())
  .map(([rawLines, newline, trailing, [contentType, charset], encoding, chunkBytes, badIndex]) => {
    // A mislabelled single-byte charset decodes non-ASCII differently; keep those bodies ASCII.
    const lines = charset === 'ascii-only' ? rawLines.map((line) => line.replace(/[^\x20-\x7e]/g, '?')) : rawLines;
    const text = `${lines.join(newline)}${trailing ? newline : ''}`;
    const submitted = lines.filter((line) => line.trim() !== '' && !line.trim().startsWith('#')).length;
    const bytes = encoding.apply(encode(text, charset === 'utf-16le' ? 'utf-16le' : 'utf-8', badIndex));
    const headers: Record<string, string> = { 'content-type': contentType };
    if (encoding.header) headers['content-encoding'] = encoding.header;
    const meaningful = encoding.intact && charset !== 'unknown';
    return compressedRefused({
      kind: `text/${charset}`,
      headers,
      body: bytes,
      chunkBytes,
      submitted: meaningful ? submitted : null,
      frameworkMay: !meaningful,
      expect: meaningful && submitted === 0 ? 'no-urls' : undefined,
    }, encoding);
  });

/** Bodies that are no submission at all: empty, absent, random bytes. */
const oddCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.constantFrom<[string | undefined, string | undefined]>(
    ['application/json', 'invalid-body'],
    ['text/plain', 'no-urls'],
    [undefined, 'unsupported-media-type'],
    ['application/octet-stream', 'unsupported-media-type'],
    ['application/x-www-form-urlencoded', 'unsupported-media-type'],
  ).chain(([contentType, expect]) =>
    fc.constantFrom<FuzzCase>(
      { kind: 'empty-body', headers: contentType ? { 'content-type': contentType, 'content-length': '0' } : { 'content-length': '0' }, body: Buffer.alloc(0), submitted: null, frameworkMay: false, expect },
      { kind: 'no-body', headers: contentType ? { 'content-type': contentType } : {}, body: null, submitted: null, frameworkMay: false, expect },
    ),
  ),
  fc
    .tuple(fc.uint8Array({ maxLength: 3_000 }), fc.constantFrom(undefined, 'application/json', 'application/octet-stream', 'multipart/form-data; boundary=zz', 'application/x-www-form-urlencoded', 'image/png'))
    .map(([bytes, contentType]): FuzzCase => {
      const type = mediaType(contentType);
      const framework = type === 'application/json' || type === 'application/x-www-form-urlencoded';
      return {
        kind: 'random-bytes',
        headers: contentType ? { 'content-type': contentType } : {},
        body: Buffer.from(bytes),
        submitted: null,
        frameworkMay: framework,
        expect: framework ? undefined : 'unsupported-media-type',
      };
    }),
);

const fuzzCase = fc
  .oneof({ weight: 6, arbitrary: jsonCase }, { weight: 3, arbitrary: textCase }, { weight: 1, arbitrary: oddCase })
  // A counterexample is reported in one line, not as a megabyte of byte values.
  .map((fuzz) => Object.assign(fuzz, { [fc.toStringMethod]: () => describeCase(fuzz) }));

// ---- The run ----------------------------------------------------------------------------------

/** What an answer looks like when it is ours: JSON `{"error": {"code", "message"}}`. */
function ourError(response: RawResponse): { code: string; message: string } | null {
  if (!/^application\/json/.test(response.headers['content-type'] ?? '')) return null;
  const parsed = JSON.parse(response.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } };
  assert.ok(parsed.error, `a JSON 4xx has an "error" object: ${response.body.toString('utf8').slice(0, 300)}`);
  assert.equal(typeof parsed.error.code, 'string');
  assert.equal(typeof parsed.error.message, 'string');
  return parsed.error as { code: string; message: string };
}

function describeCase(fuzz: FuzzCase): string {
  return `${fuzz.kind} ${JSON.stringify(fuzz.headers)} ${fuzz.body === null ? 'no body' : `${fuzz.body.length} bytes: ${JSON.stringify(fuzz.body.subarray(0, 200).toString('latin1'))}`}`;
}

forEachLane('POST /portfolios under fuzzed input', (lane) => {
  let stack: LocalStack;
  let port: number;
  const logs = memoryLogger();
  let fetches = 0;

  before(async function () {
    this.timeout(60_000);
    // Express reads NODE_ENV when the app is made; production (infra sets it) keeps stack traces
    // out of the framework's error pages, and that is what is checked here.
    const nodeEnv = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      stack = await startLocalStack({
        running: lane.emulators(),
        apiPort: 0,
        env: { ALLOW_PRIVATE_NETWORKS: 'false', MAX_URLS_PER_REQUEST: String(MAX_URLS), MAX_REQUEST_BYTES: String(MAX_BODY_BYTES) },
        deps: {
          log: logs.log,
          fetchPage: async () => {
            fetches += 1;
            throw new Error('nothing may be fetched in the fuzz run');
          },
        },
      });
    } finally {
      if (nodeEnv === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = nodeEnv;
    }
    // Published messages go nowhere: nothing is scraped, the status view keeps them queued.
    await stack.clients.pubsub.subscription(stack.names.pushSubscription).delete();
    port = Number(new URL(stack.apiUrl).port);
  });

  after(async function () {
    this.timeout(30_000);
    await stack?.stop();
  });

  const runs = RUNS[lane.kind];

  it(`answers ${runs} generated requests with 202 or a 4xx, never 5xx, and every 202 adds up`, async function () {
    this.timeout(120_000);
    const statuses = new Map<string, number>();
    const frameworkAnswers = new Map<string, number>();
    const count = (map: Map<string, number>, key: string): void => {
      map.set(key, (map.get(key) ?? 0) + 1);
    };
    // Express prints each body-parser error with its stack to stderr; that is the framework's log.
    const consoleError = console.error;
    console.error = () => undefined;
    const started = Date.now();
    try {
      await fc.assert(
        fc.asyncProperty(fuzzCase, async (fuzz) => {
          const what = describeCase(fuzz);
          const response = await rawRequest(port, { method: 'POST', path: '/portfolios', headers: fuzz.headers, body: fuzz.body, chunkBytes: fuzz.chunkBytes });
          assert.ok(response.status === 202 || (response.status >= 400 && response.status < 500), `${response.status} ${response.body.toString('utf8').slice(0, 300)} for ${what}`);
          const error = response.status === 202 ? null : ourError(response);
          count(statuses, error ? `${response.status} ${error.code}` : String(response.status));
          if (response.status === 202) {
            assert.notEqual(fuzz.submitted, null, `202 for a body that is no submission: ${what}`);
            const body = JSON.parse(response.body.toString('utf8')) as { accepted: number; duplicates: number; rejected: Array<{ url: string; code: string }>; statusUrl: string };
            assert.equal(body.accepted + body.duplicates + body.rejected.length, fuzz.submitted, `accepted + duplicates + rejected = submitted: ${what}`);
            assert.ok(body.accepted >= 1);
            for (const rejected of body.rejected) assert.ok(URL_CODES.has(rejected.code), `rejection code ${rejected.code}`);
            const status = await rawRequest(port, { method: 'GET', path: new URL(body.statusUrl).pathname, headers: {}, body: null });
            assert.equal(status.status, 200);
            const view = JSON.parse(status.body.toString('utf8')) as { counts: { queued: number; done: number; failed: number }; articles: unknown[] };
            assert.equal(view.counts.queued + view.counts.done + view.counts.failed, body.accepted);
            assert.equal(view.articles.length, body.accepted);
            return;
          }
          if (error === null) {
            // functions-framework's body parser answered before our function ran.
            assert.ok(fuzz.frameworkMay, `the framework answered ${response.status} where our function should have: ${what}`);
            assert.ok([400, 413, 415].includes(response.status), `framework status ${response.status}`);
            assert.doesNotMatch(response.body.toString('utf8'), /\bat \S+ \(|node_modules|\.js:\d+|Error:/, `a framework error page shows no stack trace: ${what}`);
            count(frameworkAnswers, `${response.status} ${fuzz.kind}`);
            return;
          }
          assert.ok(OUR_CODES.has(error.code), `unknown code ${error.code}`);
          if (fuzz.expect) assert.equal(error.code, fuzz.expect, `${error.message} for ${what}`);
        }),
        { numRuns: runs },
      );
    } finally {
      console.error = consoleError;
    }
    const health = await rawRequest(port, { method: 'GET', path: '/healthz', headers: {}, body: null });
    assert.equal(health.status, 200, 'the API still serves after the run');
    assert.equal(fetches, 0);
    assert.deepEqual(logs.entries.filter((entry) => entry.severity === 'ERROR'), []);
    const framework = [...frameworkAnswers.values()].reduce((sum, n) => sum + n, 0);
    console.log(`      ${runs} requests in ${((Date.now() - started) / 1000).toFixed(1)} s [${lane.kind}]: ${[...statuses].sort().map(([key, n]) => `${key} ×${n}`).join(', ')}; framework-parsed ${framework}`);
    // Compressed bodies (about one in eight cases) are all refused alike, so a twentieth is the floor.
    assert.ok((statuses.get('202') ?? 0) >= runs / 20, 'enough submissions are accepted to check the counts');
  });
});
