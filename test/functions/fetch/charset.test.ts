import assert from 'node:assert/strict';
import { fetchPage } from '../../../functions/src/fetch';
import { decodeHtml } from '../../../functions/src/fetch/charset';
import { fence, startSite, type Site } from './helpers';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const hex = (bytes: string): Buffer => Buffer.from(bytes.replace(/\s+/g, ''), 'hex');
const page = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

/** "Привет, мир" in windows-1251. */
const RUSSIAN = hex('cf f0 e8 e2 e5 f2 2c 20 ec e8 f0');
/** "日本語のページ" in Shift_JIS. */
const JAPANESE = hex('93 fa 96 7b 8c ea 82 cc 83 79 81 5b 83 57');
/** "中文网页" in GBK. */
const CHINESE = hex('d6 d0 ce c4 cd f8 d2 b3');
/** "Café crème" in ISO-8859-1. */
const FRENCH = hex('43 61 66 e9 20 63 72 e8 6d 65');

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

interface Case {
  name: string;
  contentType: string;
  body: Buffer;
  charset: string;
  expected: string;
}

const CASES: Case[] = [
  {
    name: 'windows-1251 from Content-Type',
    contentType: 'text/html; charset=windows-1251',
    body: page(ascii('<html><head><title>'), RUSSIAN, ascii('</title></head></html>')),
    charset: 'windows-1251',
    expected: '<html><head><title>Привет, мир</title></head></html>',
  },
  {
    name: 'Shift_JIS from <meta charset>',
    contentType: 'text/html',
    body: page(ascii('<html><head><meta charset="Shift_JIS"><title>'), JAPANESE, ascii('</title>')),
    charset: 'shift_jis',
    expected: '<html><head><meta charset="Shift_JIS"><title>日本語のページ</title>',
  },
  {
    name: 'GBK from <meta http-equiv> (label gb2312)',
    contentType: 'text/html',
    body: page(ascii('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"><title>'), CHINESE, ascii('</title>')),
    charset: 'gbk',
    expected: '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"><title>中文网页</title>',
  },
  {
    name: 'ISO-8859-1 from Content-Type (decoded as its superset windows-1252)',
    contentType: 'text/html; charset="ISO-8859-1"',
    body: page(ascii('<p>'), FRENCH, ascii('</p>')),
    charset: 'windows-1252',
    expected: '<p>Café crème</p>',
  },
  {
    name: 'UTF-16LE from its byte order mark',
    contentType: 'text/html',
    body: page(hex('ff fe'), Buffer.from('<p>Grüße, 世界</p>', 'utf16le')),
    charset: 'utf-16le',
    expected: '<p>Grüße, 世界</p>',
  },
  {
    name: 'UTF-16BE from its byte order mark',
    contentType: 'text/html',
    body: page(hex('fe ff'), utf16be('<p>Grüße, 世界</p>')),
    charset: 'utf-16be',
    expected: '<p>Grüße, 世界</p>',
  },
  {
    name: 'UTF-16LE from Content-Type without a BOM',
    contentType: 'text/html; charset=utf-16le',
    body: Buffer.from('<p>Привет</p>', 'utf16le'),
    charset: 'utf-16le',
    expected: '<p>Привет</p>',
  },
  {
    name: 'a UTF-8 byte order mark over a contradicting Content-Type',
    contentType: 'text/html; charset=windows-1251',
    body: page(hex('ef bb bf'), Buffer.from('<p>Привет</p>')),
    charset: 'utf-8',
    expected: '<p>Привет</p>',
  },
  {
    name: 'Content-Type over <meta>',
    contentType: 'text/html; charset=windows-1251',
    body: page(ascii('<meta charset="utf-8"><p>'), RUSSIAN, ascii('</p>')),
    charset: 'windows-1251',
    expected: '<meta charset="utf-8"><p>Привет, мир</p>',
  },
  {
    name: 'an unknown Content-Type label falling through to <meta>',
    contentType: 'text/html; charset=klingon',
    body: page(ascii("<meta charset='windows-1251'><p>"), RUSSIAN, ascii('</p>')),
    charset: 'windows-1251',
    expected: "<meta charset='windows-1251'><p>Привет, мир</p>",
  },
  {
    name: 'a <meta> claiming UTF-16 in ASCII-readable bytes (means UTF-8)',
    contentType: 'text/html',
    body: page(ascii('<meta charset="utf-16"><p>'), Buffer.from('Grüße'), ascii('</p>')),
    charset: 'utf-8',
    expected: '<meta charset="utf-16"><p>Grüße</p>',
  },
  {
    name: 'a commented-out <meta> ignored',
    contentType: 'text/html',
    body: page(ascii('<!-- <meta charset="shift_jis"> --><p>'), Buffer.from('Grüße'), ascii('</p>')),
    charset: 'utf-8',
    expected: '<!-- <meta charset="shift_jis"> --><p>Grüße</p>',
  },
  {
    name: 'UTF-8 when nothing is declared',
    contentType: 'text/html',
    body: Buffer.from('<p>Grüße, 世界</p>'),
    charset: 'utf-8',
    expected: '<p>Grüße, 世界</p>',
  },
];

describe('fetch charsets', () => {
  describe('decodeHtml', () => {
    for (const c of CASES) {
      it(`decodes ${c.name}`, () => {
        assert.deepEqual(decodeHtml(c.body, c.contentType), { text: c.expected, charset: c.charset });
      });
    }

    it('finds a <meta> declared after a long head, within the first bytes', () => {
      const body = page(ascii(`<head><script>${'x'.repeat(1500)}</script><meta charset="windows-1251"><title>`), RUSSIAN);
      assert.equal(decodeHtml(body, 'text/html').charset, 'windows-1251');
    });
  });

  describe('over HTTP', () => {
    let site: Site;
    before(async () => {
      site = await startSite((req, res) => {
        const c = CASES[Number(req.url?.slice(1))];
        if (!c) return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': c.contentType }).end(c.body);
      });
    });
    after(() => site.close());

    CASES.forEach((c, index) => {
      it(`serves ${c.name} as the right text`, async () => {
        const net = fence();
        const fetched = await fetchPage(site.url(`/${index}`), { connector: net.connector, allowPrivateNetworks: true });
        assert.equal(fetched.html, c.expected);
        assert.equal(fetched.charset, c.charset);
        assert.deepEqual(net.violations, []);
      });
    });
  });
});
