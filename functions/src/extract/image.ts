import { attr, elementsIn } from './dom';
import type { Element } from './dom';
import { deref, nodesWith } from './jsonld';
import type { JsonLdNode } from './jsonld';
import { linkHref } from './metadata';
import type { Page } from './page';
import type { Rule } from './rules';
import { absoluteHttpUrl } from './urls';

/** URLs and names that mark an image as site furniture rather than the article's picture. */
const FURNITURE = /logo|icon|avatar|gravatar|sprite|spacer|blank\.|pixel|1x1|badge|emoji|placeholder|loading|tracking|beacon|banner-ad|advert|button|thumb-?(?:small|tiny)|profile-?(?:pic|photo|image)|headshot|author/i;

const fromMeta = (name: string, keys: readonly string[]): Rule<Page, string> => ({
  name,
  run: (page) => {
    for (const key of keys) {
      for (const v of page.meta(key)) {
        const url = absoluteHttpUrl(v, page.base);
        if (url) return url;
      }
    }
    return null;
  },
});

/** An image URL from a JSON-LD `image`/`thumbnailUrl` value: a URL, an ImageObject, or a list of them. */
function jsonLdImage(value: unknown, page: Page, depth = 0): string | null {
  if (depth > 4 || value === null || value === undefined) return null;
  if (typeof value === 'string') return absoluteHttpUrl(value, page.base);
  if (Array.isArray(value)) {
    for (const v of value) {
      const url = jsonLdImage(v, page, depth + 1);
      if (url) return url;
    }
    return null;
  }
  if (typeof value === 'object') {
    // `{"@id": "…#primaryimage"}` points at an ImageObject elsewhere in the @graph (Yoast and kin).
    const o = deref(value, page.jsonLd()) as JsonLdNode;
    const url = o['url'] ?? o['contentUrl'];
    if (url !== undefined) return jsonLdImage(url, page, depth + 1);
    const id = o['@id'];
    // An unresolved @id is an image only when it is a plain URL, not a "#fragment" node name.
    return typeof id === 'string' && !id.includes('#') ? absoluteHttpUrl(id, page.base) : null;
  }
  return null;
}

const fromJsonLd: Rule<Page, string> = {
  name: 'jsonld.image',
  run: (page) => {
    for (const key of ['image', 'primaryImageOfPage', 'thumbnailUrl']) {
      // Only the article's own node: a publisher's logo or an author's photo is not a banner.
      for (const n of nodesWith(page.jsonLd(), key)) {
        const types = String(n['@type']).toLowerCase();
        if (/organization|person|brand|imageobject/.test(types)) continue;
        const url = jsonLdImage(n[key], page);
        if (url) return url;
      }
    }
    return null;
  },
};

/** The largest width a `srcset` offers, with its URL ("a.jpg 480w, b.jpg 1080w"). */
function largestFromSrcset(srcset: string | null): { url: string; width: number } | null {
  if (!srcset) return null;
  let best: { url: string; width: number } | null = null;
  for (const candidate of srcset.split(/,\s+/)) {
    const [url, descriptor] = candidate.trim().split(/\s+/);
    if (!url) continue;
    const m = /^(\d+(?:\.\d+)?)([wx])$/.exec(descriptor ?? '1x');
    const width = m ? (m[2] === 'w' ? Number(m[1]) : Number(m[1]) * 400) : 0;
    if (!best || width > best.width) best = { url, width };
  }
  return best;
}

function numberAttr(el: Element, name: string): number | null {
  const v = attr(el, name);
  if (!v) return null;
  const n = parseInt(v, 10);
  return Number.isFinite(n) ? n : null;
}

/**
 * A picture inside the article body that is big enough to be its lead: at least 400×200 by its
 * width/height attributes, or offered at 600w+ in its srcset. Lazy-loading attributes count as src.
 */
export function contentImage(page: Page): string | null {
  const main = page.main();
  if (!main) return null;
  for (const root of main.roots) {
    for (const el of [root, ...elementsIn(root, (e) => !main.skip(e))]) {
      if (el.name !== 'img' || main.skip(el)) continue;
      const srcset = largestFromSrcset(attr(el, 'srcset') ?? attr(el, 'data-srcset'));
      const src = attr(el, 'data-src') ?? attr(el, 'data-lazy-src') ?? attr(el, 'data-original') ?? attr(el, 'src') ?? srcset?.url ?? null;
      if (!src || /\.svg(\?|#|$)/i.test(src)) continue;
      const label = `${src} ${el.attribs['class'] ?? ''} ${el.attribs['id'] ?? ''} ${el.attribs['alt'] ?? ''}`;
      if (FURNITURE.test(label)) continue;
      const w = numberAttr(el, 'width');
      const h = numberAttr(el, 'height');
      const bigByAttrs = w !== null && w >= 400 && (h === null || h >= 200);
      const bigBySrcset = srcset !== null && srcset.width >= 600 && (w === null || w >= 400);
      if (!bigByAttrs && !bigBySrcset) continue;
      const url = absoluteHttpUrl(bigBySrcset && srcset ? srcset.url : src, page.base);
      if (url) return url;
    }
  }
  return null;
}

/** Banner image rules: what the page declares, then a large picture of the article body. */
export const bannerImageRules: readonly Rule<Page, string>[] = [
  fromMeta('og:image', ['og:image', 'og:image:url', 'og:image:secure_url']),
  fromMeta('twitter:image', ['twitter:image', 'twitter:image:src']),
  fromJsonLd,
  { name: 'link.image_src', run: (page) => linkHref(page, 'image_src') },
  fromMeta('meta.thumbnail', ['thumbnail', 'thumbnailurl', 'image', 'parsely-image-url', 'sailthru.image.full']),
  { name: 'content-image', run: contentImage },
];
