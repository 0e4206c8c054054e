import { BLOCK, NON_TEXT, childrenOf, elementsIn, isElement, textOf } from './dom';
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

/**
 * Text statistics of the kept (not pruned) elements, in typed arrays indexed by the element's position
 * in document order: a 5 MB page has ~100k elements, and one object per element costs more in garbage
 * collection than the arithmetic.
 */
class TextStats {
  /**
   * Each kept element carries its index under a symbol private to this instance: a property read is
   * several times cheaper than a Map lookup on a ~100k-element tree, and the symbol can't collide
   * with anything else on the node.
   */
  private readonly key = Symbol('text-stats-index');
  readonly text: Float64Array;
  readonly link: Float64Array;
  readonly commas: Float64Array;
  /** Length of text not inside a block child (text runs directly in this element). */
  readonly inline: Float64Array;
  readonly hasBlock: Uint8Array;

  constructor(readonly order: readonly Element[], pruned: ReadonlySet<Element>) {
    const n = order.length;
    this.text = new Float64Array(n);
    this.link = new Float64Array(n);
    this.commas = new Float64Array(n);
    this.inline = new Float64Array(n);
    this.hasBlock = new Uint8Array(n);
    const key = this.key;
    for (let i = 0; i < n; i++) {
      const el = order[i]!;
      if (!pruned.has(el)) (el as unknown as Record<symbol, number>)[key] = i;
    }
    // Reverse pre-order visits every child before its parent.
    for (let i = n - 1; i >= 0; i--) {
      const el = order[i]!;
      if ((el as unknown as Record<symbol, number>)[key] === undefined) continue;
      let text = 0;
      let link = 0;
      let commas = 0;
      let inline = 0;
      let hasBlock = 0;
      const children = el.children;
      for (let k = 0; k < children.length; k++) {
        const c = children[k]!;
        if (c.type === 'text') {
          const t = (c as unknown as { data: string }).data;
          const len = trimmedLength(t);
          text += len;
          inline += len;
          if (len) commas += countCommas(t);
        } else if (c.type === 'tag') {
          const j = (c as unknown as Record<symbol, number>)[key];
          if (j === undefined) continue;
          text += this.text[j]!;
          link += this.link[j]!;
          commas += this.commas[j]!;
          if (BLOCK.has(c.name) && c.name !== 'br' && c.name !== 'img') hasBlock = 1;
          else inline += this.text[j]!;
        }
      }
      this.text[i] = text;
      this.link[i] = el.name === 'a' ? text : link;
      this.commas[i] = commas;
      this.inline[i] = inline;
      this.hasBlock[i] = hasBlock;
    }
  }

  /** The element's position in document order, or undefined when it was pruned or is outside the body. */
  indexOf(el: AnyNode): number | undefined {
    return (el as unknown as Record<symbol, number | undefined>)[this.key];
  }

  has(el: Element): boolean {
    return this.indexOf(el) !== undefined;
  }

  textLength(el: Element): number {
    const i = this.indexOf(el);
    return i === undefined ? 0 : this.text[i]!;
  }

  linkDensity(el: Element): number {
    const i = this.indexOf(el);
    return i === undefined || this.text[i] === 0 ? 0 : this.link[i]! / this.text[i]!;
  }
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

/** Length of a string without its leading and trailing whitespace, without allocating. */
function trimmedLength(s: string): number {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) <= 32) start++;
  while (end > start && s.charCodeAt(end - 1) <= 32) end--;
  return end - start;
}

function countCommas(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 44 || c === 0xff0c || c === 0x3001 || c === 0x060c) n++;
  }
  return n;
}

/** Ancestors (inclusive) of the elements the page itself declares as its main content. */
function declaredMainAncestry(elements: readonly Element[]): Set<Element> {
  const enclosing = new Set<Element>();
  for (const el of elements) {
    const itemprop = el.attribs['itemprop'];
    if (el.name !== 'main' && el.attribs['role'] !== 'main' && !(itemprop !== undefined && /\barticleBody\b/i.test(itemprop))) continue;
    for (let p: Element | null = el; p && isElement(p) && !enclosing.has(p); p = p.parent as Element | null) enclosing.add(p);
  }
  return enclosing;
}

function bodyOf(root: AnyNode): AnyNode {
  for (const el of elementsIn(root, (e) => e.name === 'html')) if (el.name === 'body') return el;
  return root;
}

/**
 * Finds the article body of a parsed document. `elements` (all elements in document order) may be
 * passed when the caller already has them. Returns null only when the page has no elements at all.
 */
export function findMainContent(
  root: AnyNode,
  elements?: readonly Element[],
  inspect?: (scores: ReadonlyMap<Element, number>) => void,
): MainContent | null {
  const body = bodyOf(root);
  const enclosing = declaredMainAncestry(elements ?? elementsIn(root));
  const pruned = new Set<Element>();
  const order = elementsIn(body, (el) => {
    if (isBoilerplate(el, enclosing)) {
      pruned.add(el);
      return false;
    }
    return true;
  });
  if (order.length === 0 && body === root) return null;
  const stats = new TextStats(order, pruned);

  const scores = new Float64Array(order.length);
  const scored = new Uint8Array(order.length);
  const candidates: number[] = [];
  const credit = (el: Element | null, points: number, level: number): void => {
    if (!el || !isElement(el)) return;
    const i = stats.indexOf(el);
    if (i === undefined) return;
    if (!scored[i]) {
      scored[i] = 1;
      scores[i] = tagBias(el.name) + classWeight(el);
      candidates.push(i);
    }
    scores[i] = scores[i]! + points / (level === 0 ? 1 : level === 1 ? 2 : level * 3);
  };
  for (let i = 0; i < order.length; i++) {
    const el = order[i]!;
    if (!stats.has(el)) continue;
    const text = stats.text[i]!;
    const isParagraph = PARAGRAPH_TAGS.has(el.name) || (DIV_LIKE.has(el.name) && !stats.hasBlock[i]);
    if (isParagraph && text >= 25) {
      const points = 1 + stats.commas[i]! + Math.min(Math.floor(text / 100), 3);
      let p = el.parent as Element | null;
      for (let level = 0; level < 5 && p && isElement(p); level++, p = p.parent as Element | null) credit(p, points, level);
    } else if (!isParagraph && stats.hasBlock[i] && stats.inline[i]! >= 25) {
      // Prose written straight into a container between <br>s counts as paragraphs of that container.
      const points = 1 + Math.min(Math.floor(stats.inline[i]! / 100), 3);
      let p: Element | null = el;
      for (let level = 0; level < 5 && p && isElement(p); level++, p = p.parent as Element | null) credit(p, points, level);
    }
  }

  // Final score: discounted by link density. Keep the best six for the checks below.
  const final = new Map<Element, number>();
  const best: [Element, number][] = [];
  for (const i of candidates) {
    const el = order[i]!;
    const score = scores[i]! * (1 - stats.linkDensity(el));
    final.set(el, score);
    if (best.length < 6 || score > best[best.length - 1]![1]) {
      best.push([el, score]);
      best.sort((a, b) => b[1] - a[1]);
      if (best.length > 6) best.pop();
    }
  }
  inspect?.(final);

  const skip = (el: Element): boolean => pruned.has(el) || isClutter(el, stats);
  if (best.length === 0) {
    return isElement(body) ? { roots: [body], skip } : { roots: childrenOf(body).filter(isElement), skip };
  }
  let [top, topScore] = best[0]!;

  // Several strong candidates under one ancestor mean the article is split into blocks: take the ancestor.
  const close = best.slice(1).filter(([, s]) => s / topScore >= 0.75).map(([el]) => el);
  if (close.length >= 3) {
    for (let anc = top.parent as Element | null; anc && isElement(anc) && anc.name !== 'body'; anc = anc.parent as Element | null) {
      const a = anc;
      if (close.filter((c) => contains(a, c)).length >= 3) {
        top = a;
        break;
      }
    }
  }
  // A lone child is the same content as its parent; the parent may hold the headings around it.
  while (top.parent && isElement(top.parent) && top.parent.name !== 'body' && top.parent.name !== 'html' &&
    top.parent.children.filter((c) => isElement(c) && stats.has(c)).length === 1) {
    top = top.parent;
  }

  // A short winner is usually one notice on a page of many short blocks (a landing page, a list):
  // widen to the enclosing container until there is an article's worth of text.
  let widened = false;
  while (stats.textLength(top) < MIN_ARTICLE_CHARS && top.parent && isElement(top.parent) && stats.has(top.parent) &&
    top.parent.name !== 'body' && top.parent.name !== 'html') {
    top = top.parent;
    widened = true;
  }
  if (widened) return { roots: [top], skip };

  const roots: Element[] = [top];
  const parent = top.parent;
  if (parent && isElement(parent)) {
    topScore = final.get(top) ?? topScore;
    const threshold = Math.max(10, topScore * 0.2);
    const topClass = top.attribs['class'] ?? '';
    const kept: Element[] = [];
    for (const sib of parent.children) {
      if (!isElement(sib) || sib === top || !stats.has(sib)) continue;
      const s = final.get(sib);
      const bonus = topClass !== '' && sib.attribs['class'] === topClass ? topScore * 0.2 : 0;
      const i = stats.indexOf(sib)!;
      if (s !== undefined && s + bonus >= threshold) kept.push(sib);
      else if (sib.name === 'p' || (DIV_LIKE.has(sib.name) && !stats.hasBlock[i])) {
        const text = stats.text[i]!;
        const ld = stats.linkDensity(sib);
        if (text > 80 && ld < 0.25) kept.push(sib);
        else if (text > 0 && text <= 80 && ld === 0 && /\.( |$)/.test(textOf(sib))) kept.push(sib);
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
function isClutter(el: Element, stats: TextStats): boolean {
  const name = el.name;
  if (name !== 'div' && name !== 'section' && name !== 'ul' && name !== 'ol' && name !== 'table' && name !== 'form') return false;
  const i = stats.indexOf(el);
  if (i === undefined || stats.commas[i]! >= 10) return false;
  const ld = stats.linkDensity(el);
  if (ld > 0.2 && classWeight(el) < 0) return true;
  return ld > 0.5 && stats.text[i]! < 1000;
}
