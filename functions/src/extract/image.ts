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
 * A picture in the article header or body that is big enough to be its lead: at least 400×200 by its
 * width/height attributes, offered at 600w+ in its srcset, or (without size attributes) asked for at
 * that size by its resizing URL. Lazy-loading attributes count as src.
 */
/** Width and height a resizing URL asks for ("…/crop/755x450/…", "?w=1200&h=630"), or null. */
function sizeInUrl(url: string): { w: number; h: number | null } | null {
  const m = /(?:^|[^\d])(\d{3,4})[x×](\d{3,4})(?:[^\d]|$)/.exec(url);
  if (m) return { w: Number(m[1]), h: Number(m[2]) };
  const q = /[?&](?:w|width)=(\d{3,4})\b/.exec(url);
  return q ? { w: Number(q[1]), h: null } : null;
}

/** The article header: up to two containers around the page's `<h1>` (where a lead picture often sits above the body). */
function headerRoots(page: Page): Element[] {
  const h1 = page.byTag('h1')[0];
  const out: Element[] = [];
  for (let p = h1?.parent as Element | null | undefined, level = 0; p && p.type === 'tag' && p.name !== 'body' && p.name !== 'html' && level < 2; p = p.parent as Element | null, level++) out.push(p);
  return out.slice(-1);
}

/** True when `inner` lies inside `outer`. */
function inside(inner: Element, outer: Element): boolean {
  for (let p: Element | null = inner; p; p = p.parent as Element | null) if (p === outer) return true;
  return false;
}

export function contentImage(page: Page): string | null {
  const main = page.main();
  if (!main) return null;
  // A header block apart from the body only: a container of the whole page would reach its banners.
  const header = headerRoots(page).filter((h) => !main.roots.some((r) => inside(r, h)));
  // The blocks just before the body, in its container and the one above: a lead picture over the text.
  const before: Element[] = [];
  for (let at = main.roots[0] as Element | null | undefined, level = 0; at && at.type === 'tag' && at.name !== 'body' && level < 2; at = at.parent as Element | null, level++) {
    let n = 0;
    for (let sib = at.prev; sib && n < 2; sib = sib.prev) {
      if (sib.type !== 'tag') continue;
      before.unshift(sib as Element);
      n++;
    }
  }
  header.push(...before.filter((b) => !header.includes(b)));
  for (const root of [...header, ...main.roots]) {
    // Containers the main-content detection pruned are not searched; an <img> is judged by its own
    // URL and attributes (FURNITURE), since a lead picture's class may well say "banner".
    for (const el of [root, ...elementsIn(root, (e) => e.name === 'img' || !main.skip(e))]) {
      if (el.name !== 'img') continue;
      const srcset = largestFromSrcset(attr(el, 'srcset') ?? attr(el, 'data-srcset'));
      const src = attr(el, 'data-src') ?? attr(el, 'data-lazy-src') ?? attr(el, 'data-original') ?? attr(el, 'src') ?? srcset?.url ?? null;
      if (!src || /\.svg(\?|#|$)/i.test(src)) continue;
      const label = `${src} ${el.attribs['class'] ?? ''} ${el.attribs['id'] ?? ''} ${el.attribs['alt'] ?? ''}`;
      if (FURNITURE.test(label)) continue;
      const w = numberAttr(el, 'width');
      const h = numberAttr(el, 'height');
      const bigByAttrs = w !== null && w >= 400 && (h === null || h >= 200);
      const bigBySrcset = srcset !== null && srcset.width >= 600 && (w === null || w >= 400);
      const hinted = w === null && h === null ? sizeInUrl(src) : null;
      const bigByUrl = hinted !== null && hinted.w >= 400 && (hinted.h === null || hinted.h >= 200);
      if (!bigByAttrs && !bigBySrcset && !bigByUrl) continue;
      const url = absoluteHttpUrl(bigBySrcset && srcset ? srcset.url : src, page.base);
      if (url) return url;
    }
  }
  return null;
}

/** Banner image rules: the og:image family, then twitter:image, JSON-LD, image_src, then a large picture of the article. */
/**
 * `og:image`, unless `og:image:secure_url` is the same picture better: the same URL over https, or
 * the same file asked for at a larger size or in a format that is not GIF.
 */
const openGraphImage: Rule<Page, string> = {
  name: 'og:image',
  run: (page) => {
    const plain = fromMeta('og:image', ['og:image', 'og:image:url']).run(page) ?? null;
    const secure = fromMeta('og:image:secure_url', ['og:image:secure_url']).run(page) ?? null;
    if (!plain || !secure || plain === secure) return plain ?? secure;
    const bare = (u: string): string => u.replace(/^https?:\/\//, '');
    if (bare(plain) === bare(secure)) return secure;
    const stem = (u: string): string => (u.split(/[?#]/)[0]!.split('/').pop() ?? '').replace(/[-_]?\d{2,4}x\d{2,4}|\.\w{3,4}$/g, '');
    if (stem(plain) !== '' && stem(plain) === stem(secure)) {
      const a = sizeInUrl(plain)?.w ?? 0;
      const b = sizeInUrl(secure)?.w ?? 0;
      if (b > a || (/\.gif(?:$|[?#])/i.test(plain) && !/\.gif(?:$|[?#])/i.test(secure))) return secure;
    }
    return plain;
  },
};

export const bannerImageRules: readonly Rule<Page, string>[] = [
  openGraphImage,
  fromMeta('twitter:image', ['twitter:image', 'twitter:image:src']),
  fromJsonLd,
  { name: 'link.image_src', run: (page) => linkHref(page, 'image_src') },
  fromMeta('meta.thumbnail', ['thumbnail', 'thumbnailurl', 'image', 'parsely-image-url', 'sailthru.image.full']),
  { name: 'content-image', run: contentImage },
];
