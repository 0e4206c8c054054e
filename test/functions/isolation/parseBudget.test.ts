import assert from 'node:assert/strict';
import { load } from 'cheerio/slim';
import { extractArticle } from '../../../functions/src/extract';
import { DEFAULT_PARSE_BUDGET, PageTooComplex, parseWithinBudget } from '../../../functions/src/isolation/parseBudget';

const OPTIONS = { xml: { xmlMode: false, decodeEntities: true } };

function refusal(html: string, budget = DEFAULT_PARSE_BUDGET): PageTooComplex {
  try {
    parseWithinBudget(html, budget);
  } catch (error) {
    assert.ok(error instanceof PageTooComplex, String(error));
    return error;
  }
  assert.fail('the page was parsed');
}

describe('parseWithinBudget', () => {
  it('builds the tree cheerio/slim builds, for pages with comments, scripts, svg, entities and unclosed tags', () => {
    const html = [
      '<!DOCTYPE html><html><head><title>A &amp; B</title><script>if (a < b) { x = "<p>"; }</script></head>',
      '<body><!-- note --><?php echo 1 ?><p>one<p>two<ul><li>a<li>b</ul><svg><path d="M0"/><g/></svg>',
      '<div><span>unclosed<b>bold</div><table><tr><td>x<td>y</table>&eacute;&#x41;</body></html>',
    ].join('');
    assert.equal(load(parseWithinBudget(html), OPTIONS).html(), load(html, OPTIONS).html());
  });

  it('takes a page exactly at the node budget and refuses one node more', () => {
    const budget = { maxNodes: 50, maxStackWork: 1_000_000 };
    assert.doesNotThrow(() => parseWithinBudget('<br>'.repeat(50), budget));
    assert.equal(refusal('<br>'.repeat(51), budget).bound, 'nodes');
    // Comments and processing instructions are nodes too.
    assert.equal(refusal('<!---->'.repeat(30) + '<?x?>'.repeat(21), budget).code, 'page-too-complex');
  });

  it('counts, per tag, the elements open when it is read: unclosed nesting is quadratic, closed or void tags are not', () => {
    // n unclosed elements: 0 + 1 + … + (n - 1) = n(n - 1)/2.
    const budget = { maxNodes: 100_000, maxStackWork: 45 };
    assert.doesNotThrow(() => parseWithinBudget('<b>'.repeat(10), budget));
    const deep = refusal('<b>'.repeat(11), budget);
    assert.equal(deep.bound, 'nesting');
    assert.doesNotThrow(() => parseWithinBudget('<b></b>'.repeat(22), budget));
    // End tags that match nothing cost the parser a search of its stack each.
    assert.equal(refusal('<b><b><b>' + '</i>'.repeat(15), budget).bound, 'nesting');
    const roomy = { maxNodes: 100_000, maxStackWork: 20_000 };
    assert.doesNotThrow(() => parseWithinBudget('<p>x'.repeat(5000), roomy), 'implied ends (<p> closes <p>) do not nest');
    assert.doesNotThrow(() => parseWithinBudget('<ul>' + '<li>x'.repeat(5000) + '</ul>', roomy));
    assert.doesNotThrow(() => parseWithinBudget('<img src=a><input><hr>'.repeat(3000), roomy), 'void elements do not nest');
    // Self-closing syntax is ignored in HTML (outside svg/math), so <div/> nests.
    assert.equal(refusal('<div/>'.repeat(300), roomy).bound, 'nesting');
  });

  it('refuses the hostile pages of issue 14 early: 200,000 unclosed <b> and 5 MB of <br>', () => {
    const nested = refusal('<b>'.repeat(200_000));
    assert.equal(nested.bound, 'nesting');
    assert.match(nested.message, /nests so many unclosed elements/);
    assert.equal(refusal('<b>'.repeat(5_000) + '</i>'.repeat(1_000_000)).bound, 'nesting');
    const flat = refusal('<br>'.repeat(1_300_000));
    assert.equal(flat.bound, 'nodes');
    assert.match(flat.message, /more than 100,000 elements/);
  });
});

describe('extractArticle within the parse budget', () => {
  it('passes PageTooComplex on instead of returning an empty article', () => {
    assert.throws(() => extractArticle('<b>'.repeat(20_000), 'https://example.com/a'), PageTooComplex);
  });
});
