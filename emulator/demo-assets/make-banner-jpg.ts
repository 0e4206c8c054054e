/**
 * Draws the demo site's JPEG banner on a canvas in headless Chromium (the browser the tests use;
 * Node has no JPEG encoder) and writes emulator/demo-assets/banner.jpg. Run once, result committed:
 *   npx tsx emulator/demo-assets/make-banner-jpg.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

// Runs in the page (a string: this program has no DOM types).
const DRAW = `(() => {
  const canvas = document.createElement('canvas');
  canvas.width = 480;
  canvas.height = 270;
  const context = canvas.getContext('2d');
  const sky = context.createLinearGradient(0, 0, 480, 270);
  sky.addColorStop(0, '#553c9a');
  sky.addColorStop(1, '#ed89b0');
  context.fillStyle = sky;
  context.fillRect(0, 0, 480, 270);
  context.fillStyle = 'rgba(255, 255, 255, 0.35)';
  for (let i = 0; i < 6; i += 1) {
    context.beginPath();
    context.arc(60 + i * 75, 90 + (i % 2) * 50, 28 + i * 4, 0, Math.PI * 2);
    context.fill();
  }
  context.fillStyle = 'rgba(26, 32, 44, 0.55)';
  context.fillRect(0, 205, 480, 65);
  return canvas.toDataURL('image/jpeg', 0.8);
})()`;

async function main(): Promise<void> {
  const { default: chromium } = await import('@sparticuz/chromium');
  const browser = await puppeteer.launch({ args: [...chromium.args, '--disable-background-networking'], executablePath: await chromium.executablePath(), headless: true });
  try {
    const page = await browser.newPage();
    const dataUrl = String(await page.evaluate(DRAW));
    writeFileSync(join(__dirname, 'banner.jpg'), Buffer.from(dataUrl.split(',')[1] ?? '', 'base64'));
  } finally {
    await browser.close();
  }
}

void main();
