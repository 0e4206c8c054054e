import { load } from 'cheerio/slim';
import { parseWithinBudget } from '../isolation/parseBudget';
import type { CheerioAPI } from 'cheerio/slim';
import type { AnyNode, Element } from 'domhandler';

/**
 * Parses a page with htmlparser2 (through `cheerio/slim`), not parse5.
 *
 * Why: on real article pages parse5 costs ~18 ms/page against ~2.4 ms for htmlparser2 (FACTS.md), and
 * extraction only reads the tree. htmlparser2 does no HTML5 tree construction (no implied <tbody>,
 * no adoption agency), but it closes `<p>`, `<li>` and friends implicitly, treats `<script>`/`<style>`
 * contents as raw text (so JSON-LD arrives untouched) and decodes entities — enough for reading.
 * Unclosed containers simply extend to the end of their parent, which the rules below tolerate; every
 * walk here is iterative, so a page of ten thousand unclosed `<div>`s cannot overflow the stack.
 * The parse itself is bounded (isolation/parseBudget.ts): a page past the node or nesting budget
 * throws PageTooComplex, which extractArticle passes on.
 */
export function parseHtml(html: string): CheerioAPI {
  return load(parseWithinBudget(html), { xml: { xmlMode: false, decodeEntities: true } });
}

export type { AnyNode, Element };

/** Elements whose contents are never visible text. */
export const NON_TEXT = new Set([
  'script', 'style', 'noscript', 'template', 'svg', 'math', 'iframe', 'object', 'head', 'select', 'canvas', 'title',
]);

/** Elements that break a line when rendered; text on either side must not glue together. */
export const BLOCK = new Set([
  'address', 'article', 'aside', 'blockquote', 'br', 'dd', 'details', 'dialog', 'div', 'dl', 'dt', 'fieldset',
  'figcaption', 'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'li', 'main',
  'nav', 'ol', 'p', 'pre', 'section', 'summary', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'ul',
  'caption', 'img', 'picture', 'video', 'audio', 'option', 'body', 'html',
]);

export function isElement(node: AnyNode): node is Element {
  return node.type === 'tag' || node.type === 'script' || node.type === 'style';
}

/** Child nodes of any node that has them (elements, the document root). */
export function childrenOf(node: AnyNode): AnyNode[] {
  return (node as unknown as { children?: AnyNode[] }).children ?? [];
}

/** Collapses runs of whitespace (including NBSP and zero-width characters) and trims. */
export function collapse(text: string): string {
  return text.replace(/[\s\u00a0\u200b\u200c\u200d\ufeff]+/g, ' ').trim();
}

/**
 * Walks the visible text of a subtree in document order: `onText` for each text node, `onBreak` at
 * every block boundary (so that "<p>a</p><p>b</p>" never reads "ab"). `skip` leaves out subtrees
 * (boilerplate inside the main content). Returning false from `onText` stops the walk.
 */
export function walkText(
  node: AnyNode,
  onText: (text: string) => boolean | void,
  onBreak: () => void,
  skip?: (el: Element) => boolean,
): void {
  walkTextWith(node, onText, onBreak, skip ? (el) => !skip(el) : undefined);
}

/**
 * Like {@link walkText}, with `enter` called for each element before its contents: returning false
 * leaves the element's contents out of the walk (the caller has handled or rejected them).
 */
export function walkTextWith(
  node: AnyNode,
  onText: (text: string) => boolean | void,
  onBreak: () => void,
  enter?: (el: Element) => boolean,
): void {
  // Walks by first-child / next-sibling / parent pointers: no stack, no allocation, any depth.
  const visit = (n: AnyNode): 'descend' | 'skip' | 'stop' => {
    if (n.type === 'text') return onText((n as unknown as { data: string }).data) === false ? 'stop' : 'skip';
    if (isElement(n)) {
      if (NON_TEXT.has(n.name)) return 'skip';
      const block = BLOCK.has(n.name);
      if (block) onBreak();
      if (enter && !enter(n)) {
        if (block) onBreak();
        return 'skip';
      }
      if (n.children.length === 0) {
        if (block) onBreak();
        return 'skip';
      }
      return 'descend';
    }
    return n.type === 'root' && childrenOf(n).length > 0 ? 'descend' : 'skip';
  };
  let current: AnyNode | null = node;
  while (current) {
    const action = visit(current);
    if (action === 'stop') return;
    if (action === 'descend') {
      current = childrenOf(current)[0]!;
      continue;
    }
    // Move to the next sibling, closing the blocks we climb out of.
    while (current !== node && current.next === null) {
      current = current.parent as AnyNode;
      if (isElement(current) && BLOCK.has(current.name)) onBreak();
    }
    if (current === node) return;
    current = current.next;
  }
}

/**
 * Visible text of a subtree, whitespace collapsed, with a space at every block boundary. `limit` stops
 * collecting after about that many characters (the opening of a 5 MB page is all a summary needs).
 */
export function textOf(node: AnyNode, skip?: (el: Element) => boolean, limit = Infinity): string {
  const parts: string[] = [];
  let length = 0;
  walkText(
    node,
    (t) => {
      parts.push(t);
      length += t.length;
      return length < limit;
    },
    () => parts.push(' '),
    skip,
  );
  const text = collapse(parts.join(''));
  return limit < Infinity ? text.slice(0, limit) : text;
}

/** Elements of a subtree in document order (iterative), optionally not descending into some. */
export function elementsIn(root: AnyNode, descend?: (el: Element) => boolean): Element[] {
  const out: Element[] = [];
  const stack: AnyNode[] = [];
  const kids = childrenOf(root);
  for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  while (stack.length) {
    const n = stack.pop()!;
    if (!isElement(n)) continue;
    out.push(n);
    if (descend && !descend(n)) continue;
    const children = n.children;
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return out;
}

/** The value of an attribute, trimmed, or null when absent or blank. */
export function attr(el: Element, name: string): string | null {
  const v = el.attribs[name];
  if (v === undefined) return null;
  const t = v.trim();
  return t === '' ? null : t;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', quot: '"', apos: "'", lt: '<', gt: '>', nbsp: '\u00a0', hellip: '…', mdash: '—', ndash: '–',
  lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»', middot: '·', bull: '•', copy: '©',
};

/**
 * Decodes character references left in a value that was already decoded once: publishers often
 * escape metadata twice (`content="It&amp;#8217;s"`), and JSON-LD is not HTML, so its strings keep any
 * `&amp;` a CMS wrote into them.
 */
export function decodeLeftoverEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
  });
}
