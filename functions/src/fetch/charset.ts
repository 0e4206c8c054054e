/**
 * Turning the bytes of an HTML page into text. Order (the HTML standard's encoding sniffing, trimmed):
 * 1. a byte order mark — it wins even over Content-Type, as in every browser, because a BOM cannot be
 *    there by accident while a server's default charset often is;
 * 2. the charset parameter of Content-Type;
 * 3. `<meta charset>` or `<meta http-equiv="Content-Type" content="…; charset=…">` in the first
 *    `PRESCAN_BYTES` bytes (a meta that names UTF-16 means UTF-8: bytes readable as ASCII aren't UTF-16);
 * 4. UTF-8.
 * Labels unknown to the WHATWG Encoding Standard are skipped, falling through to the next source.
 * Decoding uses Node's TextDecoder (full ICU: windows-1251, shift_jis, gbk, euc-kr, utf-16le/be, …);
 * iso-8859-1 and us-ascii decode as windows-1252, as the Encoding Standard says.
 */
import { TextDecoder } from 'node:util';

/** The standard prescans 1024 bytes; real pages sometimes put the meta a little later. */
export const PRESCAN_BYTES = 4096;

/** A decoder for a charset label, or null when the label isn't a known encoding. */
function decoderFor(label: string): TextDecoder | null {
  try {
    return new TextDecoder(label.trim().replace(/^["']|["']$/g, ''));
  } catch {
    return null;
  }
}

function bomEncoding(bytes: Uint8Array): string | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  return null;
}

/** The charset parameter of a Content-Type header value, if any. */
export function contentTypeCharset(contentType: string | undefined): string | null {
  if (!contentType) return null;
  const match = /;\s*charset\s*=\s*("?)([^";,\s]+)\1/i.exec(contentType);
  return match?.[2] ?? null;
}

/** The charset a `<meta>` in the first bytes declares, if any. */
export function metaCharset(bytes: Uint8Array): string | null {
  // latin1 maps each byte to one char, so ASCII markup is readable whatever the real encoding is.
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, PRESCAN_BYTES))
    .toString('latin1')
    .replace(/<!--[\s\S]*?-->/g, '');
  for (const tag of head.matchAll(/<meta\b[^>]*>/gi)) {
    const text = tag[0];
    const direct = /\bcharset\s*=\s*["']?\s*([^"'\s/>;]+)/i.exec(text);
    if (!direct?.[1]) continue;
    // `<meta charset=x>` counts as is; a charset inside content="…" counts only with http-equiv.
    const isAttribute = /[\s"']charset\s*=/i.test(text) && !/content\s*=\s*["'][^"']*charset/i.test(text);
    if (isAttribute || /http-equiv\s*=\s*["']?\s*content-type/i.test(text)) return direct[1];
  }
  return null;
}

/** Text of an HTML body and the encoding used for it (WHATWG name, e.g. "utf-8", "shift_jis"). */
export function decodeHtml(bytes: Uint8Array, contentType?: string): { text: string; charset: string } {
  const candidates: Array<{ label: string | null; fromMeta?: boolean }> = [
    { label: bomEncoding(bytes) },
    { label: contentTypeCharset(contentType) },
    { label: metaCharset(bytes), fromMeta: true },
  ];
  let decoder = new TextDecoder('utf-8');
  for (const candidate of candidates) {
    if (!candidate.label) continue;
    const found = decoderFor(candidate.label);
    if (!found) continue;
    decoder = candidate.fromMeta && found.encoding.startsWith('utf-16') ? new TextDecoder('utf-8') : found;
    break;
  }
  // TextDecoder drops a BOM that matches its encoding; a mismatching one (content-type said utf-16le,
  // BOM said utf-8) cannot happen because the BOM is looked at first.
  return { text: decoder.decode(bytes), charset: decoder.encoding };
}
