/**
 * Banner images of the demo site, made here: PNGs drawn pixel by pixel and encoded with node:zlib
 * (a gradient with a sun and a horizon, one palette per article), an SVG written by hand, and a JPEG
 * (demo-assets/banner.jpg, drawn on a canvas in headless Chromium and saved, since Node has no
 * JPEG encoder).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

type Rgb = [number, number, number];

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [0, 1, 2].map((i) => Math.round(a[i]! + (b[i]! - a[i]!) * t)) as Rgb;
}

/** A 16:9 truecolour PNG: a sky gradient from `top` to `bottom`, a sun, and a darker horizon. */
export function bannerPng(top: Rgb, bottom: Rgb, width = 480, height = 270): Buffer {
  const row = width * 3 + 1;
  const pixels = Buffer.alloc(row * height);
  const sun = { x: width * 0.72, y: height * 0.38, r: height * 0.16 };
  for (let y = 0; y < height; y += 1) {
    pixels[y * row] = 0; // filter: none
    const sky = mix(top, bottom, y / height);
    for (let x = 0; x < width; x += 1) {
      let colour = sky;
      const inSun = (x - sun.x) ** 2 + (y - sun.y) ** 2 < sun.r ** 2;
      if (inSun) colour = mix(sky, [255, 244, 214], 0.85);
      const horizon = height * 0.72 + Math.sin(x / 37) * 9;
      if (y > horizon) colour = mix(bottom, [20, 30, 50], 0.55 + ((y - horizon) / height) * 0.8);
      pixels.set(colour, y * row + 1 + x * 3);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(pixels, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/** A 16:9 SVG banner: overlapping circles over a gradient, with a title for assistive technology. */
export function bannerSvg(title: string): string {
  const safe = title.replace(/[&<>"]/g, (char) => `&#${char.charCodeAt(0)};`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 270" width="480" height="270" role="img" aria-labelledby="t">
<title id="t">${safe}</title>
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#2f855a"/><stop offset="1" stop-color="#b7e4c7"/></linearGradient></defs>
<rect width="480" height="270" fill="url(#g)"/>
<circle cx="150" cy="140" r="80" fill="#ffffff" fill-opacity=".35"/>
<circle cx="250" cy="120" r="60" fill="#1c4532" fill-opacity=".35"/>
<circle cx="340" cy="160" r="90" fill="#f0fff4" fill-opacity=".25"/>
</svg>
`;
}

let jpeg: Buffer | undefined;

/** The demo JPEG banner (read once). */
export function bannerJpeg(): Buffer {
  jpeg ??= readFileSync(join(__dirname, 'demo-assets', 'banner.jpg'));
  return jpeg;
}
