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

/** Commas of Latin, CJK (full-width and ideographic) and Arabic script. */
const OTHER_COMMAS = /[\uff0c\u3001\u060c]/g;
const NON_ASCII = /[^\x00-\x7f]/;

function countCommas(s: string): number {
  let n = 0;
  for (let i = s.indexOf(','); i !== -1; i = s.indexOf(',', i + 1)) n++;
  if (NON_ASCII.test(s)) n += (s.match(OTHER_COMMAS) ?? []).length;
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
 * The kept part of the body in document order with text statistics, computed in one iterative
 * depth-first walk. Everything is indexed by pre-order position in typed arrays: a 5 MB page has
 * ~100k elements, and a Map entry or an object per element costs more than the arithmetic. A
 * subtree occupies the index range [i, end[i]).
 */
interface Tree {
  order: Element[];
  parent: Int32Array;
  end: Int32Array;
  text: Float64Array;
  link: Float64Array;
  commas: Float64Array;
  /** Length of text not inside a block child (text runs directly in the element). */
  inline: Float64Array;
  hasBlock: Uint8Array;
  /** Readability-style content score; NaN for elements that never received any. */
  score: Float64Array;
  candidates: number[];
  pruned: Set<Element>;
  clutter: Set<Element>;
}

const TABLE_PARTS = new Set(['tbody', 'thead', 'tfoot', 'tr']);
const LIST_LIKE = new Set(['div', 'section', 'ul', 'ol', 'table', 'form']);

function buildTree(body: Element, capacity: number, enclosing: ReadonlySet<Element>): Tree {
  const n = capacity + 1;
  const t: Tree = {
    order: [],
    parent: new Int32Array(n),
    end: new Int32Array(n),
    text: new Float64Array(n),
    link: new Float64Array(n),
    commas: new Float64Array(n),
    inline: new Float64Array(n),
    hasBlock: new Uint8Array(n),
    score: new Float64Array(n).fill(NaN),
    candidates: [],
    pruned: new Set(),
    clutter: new Set(),
  };
  const credit = (i: number, points: number, level: number): void => {
    if (Number.isNaN(t.score[i])) {
      const el = t.order[i]!;
      t.score[i] = el.attribs ? tagBias(el.name) + classWeight(el) : 0;
      t.candidates.push(i);
    }
    t.score[i] = t.score[i]! + points / (level === 0 ? 1 : level === 1 ? 2 : level * 3);
  };
  const creditUp = (from: number, points: number): void => {
    for (let level = 0, i = from; level < 5 && i >= 0; level++, i = t.parent[i]!) credit(i, points, level);
  };

  const stackIx: number[] = [0];
  const stackPos: number[] = [0];
  t.order.push(body);
  t.parent[0] = -1;
  while (stackIx.length) {
    const top = stackIx.length - 1;
    const i = stackIx[top]!;
    const el = t.order[i]!;
    const pos = stackPos[top]!;
    if (pos < el.children.length) {
      stackPos[top] = pos + 1;
      const c = el.children[pos]!;
      if (c.type === 'text') {
        const data = (c as unknown as { data: string }).data;
        const len = trimmedLength(data);
        if (len) {
          t.text[i] = t.text[i]! + len;
          t.inline[i] = t.inline[i]! + len;
          t.commas[i] = t.commas[i]! + countCommas(data);
        }
      } else if (isElement(c)) {
        if (isBoilerplate(c, enclosing) || t.order.length >= capacity) {
          t.pruned.add(c);
          continue;
        }
        const j = t.order.length;
        t.order.push(c);
        t.parent[j] = i;
        stackIx.push(j);
        stackPos.push(0);
      }
      continue;
    }
    // All children done: finish this element and hand its totals to its parent.
    stackIx.pop();
    stackPos.pop();
    t.end[i] = t.order.length;
    const text = t.text[i]!;
    if (el.name === 'a') t.link[i] = text;
    const p = t.parent[i]!;
    if (p >= 0) {
      t.text[p] = t.text[p]! + text;
      t.link[p] = t.link[p]! + t.link[i]!;
      t.commas[p] = t.commas[p]! + t.commas[i]!;
      if (BLOCK.has(el.name) && el.name !== 'br' && el.name !== 'img') t.hasBlock[p] = 1;
      else t.inline[p] = t.inline[p]! + text;
    }
    const isParagraph = PARAGRAPH_TAGS.has(el.name) || (DIV_LIKE.has(el.name) && !t.hasBlock[i]);
    if (isParagraph && text >= 25) {
      if (p >= 0) creditUp(p, 1 + t.commas[i]! + Math.min(Math.floor(text / 100), 3));
    } else if (!isParagraph && t.hasBlock[i] && t.inline[i]! >= 25) {
      // Prose written straight into a container between <br>s counts as paragraphs of that container.
      creditUp(i, 1 + Math.min(Math.floor(t.inline[i]! / 100), 3));
    }
    // Link lists and widgets inside the article body: mostly links, little prose.
    if (LIST_LIKE.has(el.name) && t.commas[i]! < 10 && text > 0) {
      const ld = t.link[i]! / text;
      if ((ld > 0.2 && classWeight(el) < 0) || (ld > 0.5 && text < 1000)) t.clutter.add(el);
    }
  }
  return t;
}

/** Kept children of element `i`, by index. */
function* childIndices(t: Tree, i: number): Generator<number> {
  for (let j = i + 1; j < t.end[i]!; j = t.end[j]!) yield j;
}

function linkDensity(t: Tree, i: number): number {
  return t.text[i]! > 0 ? t.link[i]! / t.text[i]! : 0;
}

/**
 * Finds the article body of a parsed document. `elements` (all elements in document order) may be
 * passed when the caller already has them. Returns null only when the page has no elements at all.
 */
export function findMainContent(
  root: AnyNode,
  elements?: readonly Element[],
): MainContent | null {
  const all = elements ?? elementsIn(root);
  if (all.length === 0) return null;
  // A page without <body> (a fragment) is walked from the document itself; it stands in as element 0.
  const body = bodyOf(root) as Element;
  const t = buildTree(body, all.length, declaredMainAncestry(all));
  const rootsOf = (i: number): Element[] => (i === 0 && !isElement(body) ? childrenOf(body).filter(isElement) : [t.order[i]!]);
  const skip = (el: Element): boolean => t.pruned.has(el) || t.clutter.has(el);

  const final = new Float64Array(t.order.length).fill(NaN);
  const best: number[] = [];
  for (const i of t.candidates) {
    final[i] = t.score[i]! * (1 - linkDensity(t, i));
    if (best.length < 6 || final[i]! > final[best[best.length - 1]!]!) {
      best.push(i);
      best.sort((a, b) => final[b]! - final[a]!);
      if (best.length > 6) best.pop();
    }
  }
  if (best.length === 0) return { roots: rootsOf(0), skip };

  let top = best[0]!;
  const topScore = final[top]!;
  const isBodyOrAbove = (i: number): boolean => i <= 0;

  // Several strong candidates under one ancestor mean the article is split into blocks: take the ancestor.
  const close = best.slice(1).filter((i) => final[i]! / topScore >= 0.75);
  if (close.length >= 3) {
    for (let a = t.parent[top]!; !isBodyOrAbove(a); a = t.parent[a]!) {
      if (close.filter((c) => c >= a && c < t.end[a]!).length >= 3) {
        top = a;
        break;
      }
    }
  }
  // Rows of a table are not an article; the table is (a list article, a data page).
  while (!isBodyOrAbove(t.parent[top]!) && TABLE_PARTS.has(t.order[top]!.name)) top = t.parent[top]!;
  // A lone child is the same content as its parent; the parent may hold the headings around it.
  while (!isBodyOrAbove(t.parent[top]!) && [...childIndices(t, t.parent[top]!)].length === 1) top = t.parent[top]!;

  // A short winner is usually one notice on a page of many short blocks (a landing page, a list):
  // widen to the enclosing container until there is an article's worth of text.
  let widened = false;
  while (t.text[top]! < MIN_ARTICLE_CHARS && !isBodyOrAbove(t.parent[top]!)) {
    top = t.parent[top]!;
    widened = true;
  }
  if (widened) return { roots: rootsOf(top), skip };

  const parent = t.parent[top]!;
  if (parent < 0) return { roots: rootsOf(top), skip };
  const topFinal = Number.isNaN(final[top]!) ? topScore : final[top]!;
  const threshold = Math.max(10, topFinal * 0.2);
  const topClass = t.order[top]!.attribs['class'] ?? '';
  const roots: number[] = [];
  for (const j of childIndices(t, parent)) {
    if (j === top) {
      roots.push(j);
      continue;
    }
    const sib = t.order[j]!;
    const sameClass = topClass !== '' && sib.attribs['class'] === topClass;
    const bonus = sameClass ? topFinal * 0.2 : 0;
    if (!Number.isNaN(final[j]!) && final[j]! + bonus >= threshold) roots.push(j);
    // A block of the same kind as the winner, with prose of its own: the article continues there
    // even when its paragraphs sit too deep to have credited it.
    else if (sameClass && t.text[j]! > 200 && linkDensity(t, j) < 0.3) roots.push(j);
    else if (sib.name === 'p' || (DIV_LIKE.has(sib.name) && !t.hasBlock[j])) {
      const text = t.text[j]!;
      const ld = linkDensity(t, j);
      if (text > 80 && ld < 0.25) roots.push(j);
      else if (text > 0 && text <= 80 && ld === 0 && /\.( |$)/.test(textOf(sib))) roots.push(j);
    } else if (/^h[2-4]$/.test(sib.name)) {
      roots.push(j);
    }
  }
  // Headings kept only for their own sake must sit between kept prose, not dangle at the end.
  while (roots.length > 1 && roots[roots.length - 1] !== top && /^h[2-4]$/.test(t.order[roots[roots.length - 1]!]!.name)) roots.pop();
  return { roots: roots.map((i) => t.order[i]!), skip };
}
