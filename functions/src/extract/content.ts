import { BLOCK, NON_TEXT, attr, childrenOf, elementsIn, isElement, textOf } from './dom';
import type { AnyNode, Element } from './dom';

/**
 * Main-content detection: which part of the page is the article body.
 *
 * The approach follows the well-known paragraph-scoring idea (as in Arc90 Readability): every block of
 * prose of 25+ characters scores 1 + its commas + one point per 100 characters (at most 3), credited in
 * full to its container, half to the container's parent and a third or less further up. Containers start
 * from a bias by tag (a <div> is likelier a body than a <li>) and by class/id words ("article", "content"
 * vs "comment", "sidebar"), and their final score is discounted by link density (text inside links /
 * all text), which sinks menus and link lists. Navigation, headers, footers, asides, hidden elements and
 * class-named boilerplate are pruned before scoring. The best container, plus siblings that score close
 * to it, is the main content.
 */

/** Class/id words that mark boilerplate containers (pruned unless also marked as content). */
const UNLIKELY = /-ad-|ai2html|banner|breadcrumb|combx|comment|community|cover-wrap|disqus|extra|footer|gdpr|header|legends|menu|related|remark|replies|rss|shoutbox|sidebar|skyscraper|social|sponsor|supplemental|ad-break|agegate|pagination|pager|popup|yom-remote|newsletter|subscribe|share|cookie|consent|masthead|navbar|topbar|promo|recirc|outbrain|taboola|most-popular|trending|byline-tools|toolbar|skip-link|signup|paywall/i;
/** Class/id words that rescue a container from UNLIKELY. */
const MAYBE = /and|article|body|column|content|main|mathjax|shadow|story|entry|post-?text/i;
const POSITIVE = /article|body|content|entry|hentry|h-entry|main|page|post|text|blog|story|prose/i;
const NEGATIVE = /-ad-|hidden|^hid$| hid$| hid |^hid |banner|combx|comment|com-|contact|footer|gdpr|masthead|media|meta|outbrain|promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|widget|caption|credit|byline|author-bio|newsletter/i;

/** Elements that are boilerplate by their tag or ARIA role, wherever they are. */
const BOILERPLATE_TAGS = new Set(['nav', 'footer', 'aside', 'header', 'button', 'dialog', 'menu', 'input', 'textarea', 'label']);
const BOILERPLATE_ROLES = new Set(['navigation', 'contentinfo', 'complementary', 'banner', 'search', 'menu', 'menubar', 'dialog', 'alertdialog', 'toolbar', 'tablist']);
/** Containers that are scored as one paragraph of prose. */
const PARAGRAPH_TAGS = new Set(['p', 'pre', 'td', 'blockquote', 'h2', 'h3', 'h4', 'h5', 'h6', 'dd']);
/** Containers that may hold a paragraph but are prose themselves when they contain no blocks. */
const DIV_LIKE = new Set(['div', 'section', 'article', 'main', 'span', 'font', 'center']);
const STRUCTURAL_KEEP = new Set(['html', 'body', 'article', 'main']);

/** Below this many characters of text a winning container is widened (Readability uses 500 too). */
const MIN_ARTICLE_CHARS = 500;

/** What was found; `roots` are in document order. */
export interface MainContent {
  roots: Element[];
  /** True for a subtree inside `roots` that is not part of the article (share bars, related links…). */
  skip: (el: Element) => boolean;
}

interface Stats {
  text: number;
  link: number;
  commas: number;
  /** Length of text not inside a block child (text runs directly in this element). */
  inline: number;
  hasBlock: boolean;
}

function classAndId(el: Element): string {
  const c = el.attribs['class'] ?? '';
  const i = el.attribs['id'] ?? '';
  return c && i ? `${c} ${i}` : c || i;
}

/** +25 per positive class/id, −25 per negative one (Readability's weighting). */
export function classWeight(el: Element): number {
  let w = 0;
  for (const v of [el.attribs['class'], el.attribs['id']]) {
    if (!v) continue;
    if (NEGATIVE.test(v)) w -= 25;
    if (POSITIVE.test(v)) w += 25;
  }
  return w;
}

function isHidden(el: Element): boolean {
  if (el.attribs['hidden'] !== undefined) return true;
  if (el.attribs['aria-hidden'] === 'true') return true;
  const style = el.attribs['style'];
  return style !== undefined && /display\s*:\s*none|visibility\s*:\s*hidden/i.test(style);
}

/**
 * True for elements that are never article text: navigation, page header/footer, asides, controls,
 * hidden elements, and containers whose class/id says boilerplate (unless it also says content, or the
 * element encloses the page's declared main content).
 */
export function isBoilerplate(el: Element, enclosesMain: ReadonlySet<Element>): boolean {
  const name = el.name;
  if (NON_TEXT.has(name) || BOILERPLATE_TAGS.has(name)) return !enclosesMain.has(el);
  const role = el.attribs['role'];
  if (role && BOILERPLATE_ROLES.has(role.toLowerCase())) return !enclosesMain.has(el);
  if (isHidden(el)) return true;
  if (STRUCTURAL_KEEP.has(name) || enclosesMain.has(el)) return false;
  const ci = classAndId(el);
  return ci !== '' && UNLIKELY.test(ci) && !MAYBE.test(ci);
}

function tagBias(name: string): number {
  switch (name) {
    case 'div':
    case 'article':
    case 'main':
      return 5;
    case 'section':
    case 'pre':
    case 'td':
    case 'blockquote':
      return 3;
    case 'address':
    case 'ol':
    case 'ul':
    case 'dl':
    case 'dd':
    case 'dt':
    case 'li':
    case 'form':
      return -3;
    case 'h1':
    case 'h2':
    case 'h3':
    case 'h4':
    case 'h5':
    case 'h6':
    case 'th':
      return -5;
    default:
      return 0;
  }
}

function countCommas(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 44 || c === 0xff0c || c === 0x3001 || c === 0x060c) n++;
  }
  return n;
}

/** Elements the page itself declares as its main content, and all their ancestors. */
function declaredMainAncestry(body: AnyNode): { declared: Element[]; enclosing: Set<Element> } {
  const declared: Element[] = [];
  for (const el of elementsIn(body)) {
    const itemprop = el.attribs['itemprop'];
    if (el.name === 'main' || el.attribs['role'] === 'main' || (itemprop !== undefined && /\barticleBody\b/i.test(itemprop))) {
      declared.push(el);
    }
  }
  const enclosing = new Set<Element>();
  for (const d of declared) {
    let p: Element | null = d;
    while (p && isElement(p)) {
      if (enclosing.has(p)) break;
      enclosing.add(p);
      p = p.parent as Element | null;
    }
  }
  return { declared, enclosing };
}

function bodyOf(root: AnyNode): AnyNode {
  for (const el of elementsIn(root, (e) => e.name === 'html')) if (el.name === 'body') return el;
  return root;
}

/**
 * Finds the article body of a parsed document. Returns null only when the page has no elements at all.
 */
export function findMainContent(root: AnyNode, inspect?: (scores: ReadonlyMap<Element, number>) => void): MainContent | null {
  const body = bodyOf(root);
  const { enclosing } = declaredMainAncestry(body);
  const pruned = new Set<Element>();
  const order = elementsIn(body, (el) => {
    if (isBoilerplate(el, enclosing)) {
      pruned.add(el);
      return false;
    }
    return true;
  });
  if (order.length === 0 && body === root) return null;

  // Bottom-up statistics: reverse pre-order visits every child before its parent.
  const stats = new Map<Element, Stats>();
  for (let i = order.length - 1; i >= 0; i--) {
    const el = order[i]!;
    if (pruned.has(el)) continue;
    const s: Stats = { text: 0, link: 0, commas: 0, inline: 0, hasBlock: false };
    for (const c of el.children) {
      if (c.type === 'text') {
        const t = (c as unknown as { data: string }).data.trim();
        s.text += t.length;
        s.inline += t.length;
        s.commas += countCommas(t);
      } else if (isElement(c)) {
        const cs = stats.get(c);
        if (!cs) continue;
        s.text += cs.text;
        s.link += cs.link;
        s.commas += cs.commas;
        if (BLOCK.has(c.name) && c.name !== 'br' && c.name !== 'img') s.hasBlock = true;
        else s.inline += cs.text;
      }
    }
    if (el.name === 'a') s.link = s.text;
    stats.set(el, s);
  }

  const scores = new Map<Element, number>();
  const credit = (el: Element | null, points: number, level: number): void => {
    if (!el || !isElement(el) || !stats.has(el)) return;
    if (!scores.has(el)) scores.set(el, tagBias(el.name) + classWeight(el));
    const divider = level === 0 ? 1 : level === 1 ? 2 : level * 3;
    scores.set(el, scores.get(el)! + points / divider);
  };
  for (const el of order) {
    const s = stats.get(el);
    if (!s) continue;
    const isParagraph = PARAGRAPH_TAGS.has(el.name) || (DIV_LIKE.has(el.name) && !s.hasBlock);
    if (isParagraph && s.text >= 25) {
      const points = 1 + s.commas + Math.min(Math.floor(s.text / 100), 3);
      let p = el.parent as Element | null;
      for (let level = 0; level < 5 && p && isElement(p); level++, p = p.parent as Element | null) credit(p, points, level);
    } else if (!isParagraph && s.hasBlock && s.inline >= 25) {
      // Prose written straight into a container between <br>s counts as paragraphs of that container.
      const points = 1 + Math.min(Math.floor(s.inline / 100), 3);
      let p: Element | null = el;
      for (let level = 0; level < 5 && p && isElement(p); level++, p = p.parent as Element | null) credit(p, points, level);
    }
  }

  const linkDensity = (el: Element): number => {
    const s = stats.get(el);
    return s && s.text > 0 ? s.link / s.text : 0;
  };
  const final = new Map<Element, number>();
  for (const [el, score] of scores) final.set(el, score * (1 - linkDensity(el)));
  inspect?.(final);

  let top: Element | null = null;
  let topScore = -Infinity;
  for (const [el, score] of final) {
    if (score > topScore) {
      top = el;
      topScore = score;
    }
  }
  const skip = (el: Element): boolean => pruned.has(el) || isClutter(el, stats, linkDensity);
  if (!top) {
    return isElement(body) ? { roots: [body], skip } : { roots: childrenOf(body).filter(isElement), skip };
  }

  // Several strong candidates under one ancestor mean the article is split into blocks: take the ancestor.
  const ranked = [...final.entries()].sort((a, b) => b[1] - a[1]).slice(1, 6);
  const close = ranked.filter(([, s]) => s / topScore >= 0.75).map(([el]) => el);
  if (close.length >= 3) {
    let anc = top.parent as Element | null;
    while (anc && isElement(anc) && anc.name !== 'body') {
      const a = anc;
      if (close.filter((c) => contains(a, c)).length >= 3) {
        top = a;
        break;
      }
      anc = anc.parent as Element | null;
    }
  }
  // A lone child is the same content as its parent; the parent may hold the headings around it.
  while (top.parent && isElement(top.parent) && top.parent.name !== 'body' && top.parent.name !== 'html' &&
    top.parent.children.filter((c) => isElement(c) && stats.has(c)).length === 1) {
    top = top.parent;
  }

  // A short winner is usually one notice on a page of many short blocks (a landing page, a list):
  // widen to the enclosing container until there is an article's worth of text.
  const textOfTop = (el: Element): number => stats.get(el)?.text ?? 0;
  let widened = false;
  while (textOfTop(top) < MIN_ARTICLE_CHARS && top.parent && isElement(top.parent) && stats.has(top.parent) &&
    top.parent.name !== 'body' && top.parent.name !== 'html') {
    top = top.parent;
    widened = true;
  }
  if (widened) return { roots: [top], skip };

  const roots: Element[] = [top];
  const parent = top.parent;
  if (parent && isElement(parent)) {
    const threshold = Math.max(10, topScore * 0.2);
    const topClass = top.attribs['class'] ?? '';
    const kept: Element[] = [];
    for (const sib of parent.children) {
      if (!isElement(sib) || sib === top || !stats.has(sib)) continue;
      const s = final.get(sib);
      const bonus = topClass !== '' && sib.attribs['class'] === topClass ? topScore * 0.2 : 0;
      if (s !== undefined && s + bonus >= threshold) kept.push(sib);
      else if (sib.name === 'p' || (DIV_LIKE.has(sib.name) && !stats.get(sib)!.hasBlock)) {
        const st = stats.get(sib)!;
        const ld = linkDensity(sib);
        if (st.text > 80 && ld < 0.25) kept.push(sib);
        else if (st.text > 0 && st.text <= 80 && ld === 0 && /\.( |$)/.test(textOf(sib))) kept.push(sib);
      } else if (/^h[2-4]$/.test(sib.name)) {
        kept.push(sib);
      }
    }
    if (kept.length) {
      const set = new Set([top, ...kept]);
      roots.length = 0;
      for (const c of parent.children) if (isElement(c) && set.has(c)) roots.push(c);
      // Headings kept only for their own sake must sit between kept prose, not dangle at the edges.
      while (roots.length > 1 && /^h[2-4]$/.test(roots[roots.length - 1]!.name) && roots[roots.length - 1] !== top) roots.pop();
    }
  }
  return { roots, skip };
}

function contains(ancestor: Element, node: Element): boolean {
  let p: AnyNode | null = node;
  while (p) {
    if (p === ancestor) return true;
    p = p.parent;
  }
  return false;
}

/** Link lists and widgets inside the article body: mostly links, little prose. */
function isClutter(el: Element, stats: ReadonlyMap<Element, Stats>, linkDensity: (el: Element) => number): boolean {
  const name = el.name;
  if (name !== 'div' && name !== 'section' && name !== 'ul' && name !== 'ol' && name !== 'table' && name !== 'form') return false;
  const s = stats.get(el);
  if (!s || s.commas >= 10) return false;
  const weight = classWeight(el);
  const ld = linkDensity(el);
  if (weight < 0 && ld > 0.2) return true;
  if (ld > 0.5 && s.text < 1000) return true;
  return false;
}
