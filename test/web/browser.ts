/**
 * A real headless Chromium for the browser tests, from npm alone (@sparticuz/chromium's binary,
 * driven by puppeteer-core), with no network of its own beyond what the page asks for.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** Starts the browser. */
export async function launchBrowser(): Promise<Browser> {
  // The package is an ES module; this program is CommonJS.
  const { default: chromium } = await import('@sparticuz/chromium');
  return puppeteer.launch({ args: [...chromium.args, '--disable-background-networking'], executablePath: await chromium.executablePath(), headless: true });
}

/** Where tests write what a person should look at (screenshots, downloads): test-output/web/…, created. */
export function outputDir(...parts: string[]): string {
  const dir = join(__dirname, '..', '..', 'test-output', 'web', ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Evaluates `expression` in the page (a string: the tests have no DOM types). */
export async function inPage<T>(page: Page, expression: string): Promise<T> {
  return (await page.evaluate(expression)) as T;
}

/** Waits until `expression` is truthy in the page. */
export async function waitInPage(page: Page, expression: string, timeout = 30_000): Promise<void> {
  await page.waitForFunction(expression, { timeout, polling: 100 });
}
