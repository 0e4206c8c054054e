/**
 * Parsing one page within a node and nesting budget, so that no page can make the parse slow or the
 * tree large enough to hurt the other deliveries an instance serves.
 *
 * Why these two bounds: htmlparser2 keeps its stack of open elements in an array it `unshift`s on
 * every start tag (and `shift`s, or searches with `indexOf`, on every end tag), so each tag costs as
 * much as the number of elements open at that moment: a page of N unclosed elements costs O(N²)
 * (200,000 unclosed `<b>` took ~24 s; FACTS.md). And the tree costs ~500 bytes per node whatever the
 * page's size in bytes (5 MB of `<br>` grew the scraper by 635 MB). So the budget counts nodes, and
 * "stack work": the sum, over every start and end tag, of the elements open when it is read — which is
 * what those array operations cost. Both are counted as the parser emits each tag, from its own state,
 * so what is counted is exactly what is built and done, nothing is estimated, and the work done
 * before a refusal is bounded by the budget, not by the page.
 */
import { DomHandler, type Document } from 'domhandler';
import { Parser } from 'htmlparser2';

/** How much tree, and how much parser work, one page may cost. */
export interface ParseBudget {
  /** Elements, comments and processing instructions (text nodes lie between them, so at most one more each). */
  maxNodes: number;
  /** Sum over all start and end tags of the elements open at that tag (10,000 unclosed elements: 5e7). */
  maxStackWork: number;
}

/**
 * Measured on the shared evaluation sets (287 saved article pages): the largest has 13,049 nodes
 * (a 0.9 MB Wikipedia article), the deepest nests 34; a 5 MB page of dense article markup
 * (bench/extract.ts's synthetic page) has 72,981 nodes and nests 7. The bounds leave room far above
 * those (10,000 unclosed `<div>`s still parse); at them a parse takes a fraction of a second and the
 * tree ~50 MB (bench/hostile.ts).
 */
export const DEFAULT_PARSE_BUDGET: ParseBudget = { maxNodes: 100_000, maxStackWork: 100_000_000 };

/** Thrown when a page passes its budget; no retry can change that. */
export class PageTooComplex extends Error {
  readonly code = 'page-too-complex';

  constructor(
    /** nodes, nesting: the parse budget; time, memory: the extraction worker's deadline or heap (extractPool.ts). */
    readonly bound: 'nodes' | 'nesting' | 'time' | 'memory',
    readonly limit: number,
  ) {
    super(
      bound === 'nesting'
        ? 'the page nests so many unclosed elements inside one another that reading it would take too long (an article nests a few dozen levels)'
        : bound === 'nodes'
          ? `the page has more than ${limit.toLocaleString('en-US')} elements (a long article has a few thousand)`
          : bound === 'time'
            ? `reading the page took longer than ${limit / 1000} s (an article takes milliseconds)`
            : `reading the page needed more than ${limit} MB of memory`,
    );
    this.name = 'PageTooComplex';
  }
}

/** A DomHandler that refuses to grow past the node budget. */
class BudgetedHandler extends DomHandler {
  private nodes = 0;

  constructor(private readonly maxNodes: number) {
    super(undefined, { xmlMode: false });
  }

  /** Elements open now (tagStack holds the document itself below them). */
  get depth(): number {
    return this.tagStack.length - 1;
  }

  private count(): void {
    this.nodes += 1;
    if (this.nodes > this.maxNodes) throw new PageTooComplex('nodes', this.maxNodes);
  }

  override onopentag(name: string, attribs: Record<string, string>): void {
    this.count();
    super.onopentag(name, attribs);
  }

  override oncomment(data: string): void {
    this.count();
    super.oncomment(data);
  }

  override onprocessinginstruction(name: string, data: string): void {
    this.count();
    super.onprocessinginstruction(name, data);
  }
}

/** A Parser that refuses to spend more than the stack-work budget. */
class BudgetedParser extends Parser {
  private work = 0;

  constructor(
    private readonly handler: BudgetedHandler,
    private readonly maxStackWork: number,
  ) {
    super(handler, { xmlMode: false, decodeEntities: true });
  }

  private spend(): void {
    this.work += this.handler.depth;
    if (this.work > this.maxStackWork) throw new PageTooComplex('nesting', this.maxStackWork);
  }

  override onopentagname(start: number, endIndex: number): void {
    this.spend();
    super.onopentagname(start, endIndex);
  }

  override onclosetag(start: number, endIndex: number): void {
    this.spend();
    super.onclosetag(start, endIndex);
  }
}

/**
 * Parses `html` as `cheerio/slim`'s `load(html, { xml: { xmlMode: false, decodeEntities: true } })`
 * would (htmlparser2, HTML mode), or throws {@link PageTooComplex} as soon as the page passes `budget`.
 */
export function parseWithinBudget(html: string, budget: ParseBudget = DEFAULT_PARSE_BUDGET): Document {
  const handler = new BudgetedHandler(budget.maxNodes);
  new BudgetedParser(handler, budget.maxStackWork).end(html);
  return handler.root;
}
