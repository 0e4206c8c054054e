/**
 * Security headers of the web pages. The Content-Security-Policy allows script only from our own
 * origin (no inline script, no eval), styles only from our origin, images from anywhere on the web
 * (banners are the articles' own images) and fetches only to our own API; nothing may frame the page.
 */
import type { Response } from '@google-cloud/functions-framework';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  'img-src http: https: data:',
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Sets the headers every HTML page carries. */
export function setPageHeaders(res: Response): void {
  res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.set('X-Content-Type-Options', 'nosniff');
  res.set('Referrer-Policy', 'no-referrer');
  res.set('X-Frame-Options', 'DENY');
  res.set('Cache-Control', 'no-store');
  res.set('Vary', 'Accept');
}
