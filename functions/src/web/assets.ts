/**
 * The pages' static files (script, stylesheet), served under content-hashed names so a browser may
 * keep them for a year and a new version is always fetched.
 */
import { createHash } from 'node:crypto';
import { portfolioScript } from './client';
import { appStylesheet } from './styles';

interface Asset {
  name: string;
  contentType: string;
  body: Buffer;
}

const sources: Record<string, { contentType: string; text: string }> = {
  'portfolio.js': { contentType: 'text/javascript; charset=utf-8', text: portfolioScript },
  'app.css': { contentType: 'text/css; charset=utf-8', text: appStylesheet },
};

const byName = new Map<string, Asset>();
const byLogicalName = new Map<string, Asset>();
for (const [logical, source] of Object.entries(sources)) {
  const body = Buffer.from(source.text, 'utf8');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  const dot = logical.lastIndexOf('.');
  const asset = { name: `${logical.slice(0, dot)}.${hash}${logical.slice(dot)}`, contentType: source.contentType, body };
  byName.set(asset.name, asset);
  byLogicalName.set(logical, asset);
}

/** The URL of an asset by its plain name (`portfolio.js` → `/static/portfolio.<hash>.js`). */
export function assetUrl(logical: 'portfolio.js' | 'app.css'): string {
  return `/static/${byLogicalName.get(logical)?.name ?? logical}`;
}

/** The asset served under `name`, if any. */
export function assetNamed(name: string): Asset | undefined {
  return byName.get(name);
}
