/**
 * The web pages as HTML: the submit form (`GET /`) and the portfolio page (`GET /portfolios/{id}` for
 * a browser). Server-rendered, so the first paint needs no script; portfolio.js then keeps the page
 * up to date (it renders new cards the same way, with DOM text nodes).
 */
import { assetUrl } from './assets';
import { html, safeHref, type Html } from './html';
import { reasonInWords } from './reasons';

/** An article of the status view, as the page reads it (fields added later by the view are optional). */
export interface ArticleView {
  url: string;
  status: 'queued' | 'done' | 'failed';
  title: string | null;
  publishedAt: string | null;
  outline: string[];
  readingTimeMinutes: number | null;
  bannerImage: string | null;
  attempts: number;
  error?: { code: string; message: string; cause?: { code: string; message: string } | null };
  authors?: string[];
  author?: string | null;
  nextAttemptAt?: string | null;
  waitingFor?: string | null;
}

/** A feed of the status view (feed/sitemap import). */
export interface FeedView {
  url: string;
  status: 'queued' | 'done' | 'failed';
  found?: number;
  added?: number;
  error?: { code: string; message: string };
}

/** Formats dates in the reader's language (from Accept-Language); the script re-formats in their time zone. */
export type DateFormat = (iso: string) => string;

/** A date formatter for the first of `languages` Intl knows, else English. */
export function dateFormat(languages: string[]): DateFormat {
  let locale = 'en';
  for (const language of languages) {
    try {
      if (language !== '*' && Intl.DateTimeFormat.supportedLocalesOf([language]).length > 0) {
        locale = language;
        break;
      }
    } catch {
      // not a language tag
    }
  }
  const format = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' });
  return (iso) => {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : format.format(date);
  };
}

/** The page around its main content, as the markup before and after it (a streamed page sends them apart). */
function layoutAround(title: string, options: { bodyData?: Html } = {}): { start: Html; end: Html } {
  const start = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="${assetUrl('app.css')}">
<script src="${assetUrl('portfolio.js')}" defer></script>
</head>
<body${options.bodyData ?? ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="site"><a href="/" class="brand">Portfolio scraper</a></header>
<main id="main">
`;
  return { start, end: html`
</main>
</body>
</html>
` };
}

function layout(title: string, main: Html, options: { bodyData?: Html } = {}): Html {
  const { start, end } = layoutAround(title, options);
  return html`${start}${main}${end}`;
}

/** What the form shows after a refused submission. */
export interface FormState {
  urls?: string;
  feeds?: string;
  name?: string;
  /** The refusal, in words. */
  error?: string;
  /** URLs refused, with why. */
  rejected?: { url: string; message: string }[];
}

/** `GET /`: the form. */
export function homePage(state: FormState = {}, limits: { maxUrls: number }): Html {
  const errorId = state.error ? 'form-error' : undefined;
  return layout(
    'Build a portfolio',
    html`<h1>Build a portfolio</h1>
<p>Paste the addresses of the articles, one per line (at most ${limits.maxUrls}). Each is read in the background; the next page shows them as they arrive.</p>
${state.error
  ? html`<div class="error" id="form-error" role="alert" tabindex="-1">
<p><strong>${state.error}</strong></p>
${state.rejected && state.rejected.length > 0 ? html`<ul class="rejected">${state.rejected.map((item) => html`<li><code>${item.url}</code>: ${item.message}</li>`)}</ul>` : ''}
</div>`
  : ''}
<form method="post" action="/" class="submit"${errorId ? html` aria-describedby="${errorId}"` : ''}>
<label for="urls">Article addresses, one per line</label>
<textarea id="urls" name="urls" rows="10" spellcheck="false" autocapitalize="off" placeholder="https://example.com/my-first-article">${state.urls ?? ''}</textarea>
<label for="feeds">Feeds or sitemaps to import, one per line (optional)</label>
<textarea id="feeds" name="feeds" rows="2" spellcheck="false" autocapitalize="off" placeholder="https://example.com/feed.xml">${state.feeds ?? ''}</textarea>
<label for="name">Portfolio name (optional)</label>
<input id="name" name="name" type="text" maxlength="200" value="${state.name ?? ''}">
<button type="submit">Build the portfolio</button>
</form>`,
  );
}

/** After the form, when some addresses were refused: which and why, and the way on to the portfolio. */
export function createdPage(result: { portfolioId: string; accepted: number; rejected: { url: string; message: string }[] }): Html {
  return layout(
    'Portfolio created',
    html`<h1>Portfolio created</h1>
<p>${result.accepted} ${result.accepted === 1 ? 'address was' : 'addresses were'} accepted. ${result.rejected.length} could not be used:</p>
<ul class="rejected">${result.rejected.map((item) => html`<li><code>${item.url}</code>: ${item.message}</li>`)}</ul>
<p><a href="/portfolios/${result.portfolioId}" id="open-portfolio">Open the portfolio</a></p>`,
  );
}

/** A page for an error a browser asked for (404 portfolio, storage down…), in words. */
export function errorPage(status: number, message: string): Html {
  return layout(status === 404 ? 'Not found' : 'Something went wrong', html`<h1>${status === 404 ? 'Not found' : 'Something went wrong'}</h1><p>${message}</p><p><a href="/">Build a portfolio</a></p>`);
}

/** The article's authors, from the list when the view has it, else the single name. */
function authorsOf(article: ArticleView): string[] {
  if (Array.isArray(article.authors)) return article.authors.filter((name) => typeof name === 'string' && name !== '');
  return typeof article.author === 'string' && article.author !== '' ? [article.author] : [];
}

function statusLine(article: ArticleView): Html {
  if (article.status === 'done') return html``;
  if (article.status === 'failed') {
    const error = article.error ?? { code: 'unknown', message: 'No reason was recorded.' };
    return html`<p class="reason"><span class="badge failed">Failed</span> ${reasonInWords(error)}</p>
<details class="detail"><summary>Details</summary><p><code>${error.code}</code> ${error.message}</p></details>`;
  }
  const waiting: Html[] = [];
  if (article.attempts > 0) waiting.push(html` (attempt ${article.attempts})`);
  if (article.nextAttemptAt) waiting.push(html`, next attempt <time datetime="${article.nextAttemptAt}" data-format="time">${article.nextAttemptAt}</time>`);
  if (article.waitingFor) waiting.push(html`, waiting for ${article.waitingFor}`);
  return html`<p class="reason"><span class="badge pending">Pending</span> Being read${waiting}.</p>`;
}

/** One card. `index` is the article's index in the view (the poll's bitmap position). */
export function articleCard(article: ArticleView, index: number, formatDate: DateFormat): Html {
  const href = safeHref(article.url);
  const title = article.title ?? article.url;
  const banner = safeHref(article.bannerImage);
  const authors = authorsOf(article);
  const meta: Html[] = [];
  if (authors.length > 0) meta.push(html`<span class="authors">${authors.join(', ')}</span>`);
  if (article.publishedAt) meta.push(html`<time datetime="${article.publishedAt}" data-format="date">${formatDate(article.publishedAt)}</time>`);
  if (article.readingTimeMinutes !== null) meta.push(html`<span class="reading">${article.readingTimeMinutes} min read</span>`);
  return html`<li class="card ${article.status}" data-index="${index}" data-status="${article.status}">
<div class="banner">${banner
    ? html`<img src="${banner}" alt="Banner image of ${title}" width="640" height="360" loading="lazy" decoding="async" referrerpolicy="no-referrer">`
    : html`<div class="placeholder" role="img" aria-label="No banner image"></div>`}</div>
<div class="body">
<h2 class="title">${href ? html`<a href="${href}" rel="noopener noreferrer nofollow">${title}</a>` : title}</h2>
${meta.length > 0 ? html`<p class="meta">${meta.map((part, position) => (position === 0 ? part : html` · ${part}`))}</p>` : ''}
${statusLine(article)}
${article.outline.length > 0 ? html`<ol class="outline" aria-label="Outline">${article.outline.map((heading) => html`<li>${heading}</li>`)}</ol>` : ''}
</div>
</li>`;
}

function feedLine(feed: FeedView): Html {
  if (feed.status === 'done') return html`<li><code>${feed.url}</code>: found ${feed.found ?? 0} articles, added ${feed.added ?? 0}.</li>`;
  if (feed.status === 'failed') return html`<li><code>${feed.url}</code>: <span class="badge failed">Failed</span> ${feed.error ? reasonInWords(feed.error) : ''} ${feed.error?.message ?? ''}</li>`;
  return html`<li><code>${feed.url}</code>: <span class="badge pending">Pending</span> being read.</li>`;
}

/** What the portfolio page knows before its articles are read: the portfolio document. */
export interface PortfolioPageHead {
  portfolioId: string;
  name: string | null;
  /** Articles in the portfolio. */
  total: number;
  feeds: FeedView[];
}

/**
 * The summary block: counts, progress bar, actions. It is sent before the articles are read, so the
 * counts are filled by the script from the cards (and written in words after the last card for a
 * browser without script); Retry failed shows while a card or a feed failed (CSS `:has`, so it needs
 * no script either).
 */
function summary(head: PortfolioPageHead): Html {
  return html`<section class="summary" aria-labelledby="progress-label">
<p id="progress-label" class="counts" aria-live="polite"><span data-count="done">…</span> done · <span data-count="queued">…</span> pending · <span data-count="failed">…</span> failed</p>
<progress id="progress" max="${Math.max(head.total, 1)}" aria-labelledby="progress-label">${head.total} articles</progress>
<div class="actions">
<form method="post" action="/portfolios/${head.portfolioId}/retry" class="retry"><button type="submit">Retry failed</button></form>
<a href="/portfolios/${head.portfolioId}.csv" download>Download CSV</a>
<a href="/portfolios/${head.portfolioId}.json" download>Download JSON</a>
</div>
<p class="live" role="status" id="live"></p>
</section>`;
}

/** The cards of some articles, each with its index in the portfolio. */
export function articleCards(articles: (ArticleView & { index: number })[], formatDate: DateFormat): Html {
  return html`${articles.map((article) => articleCard(article, article.index, formatDate))}`;
}

/**
 * `GET /portfolios/{id}` for a browser, in two parts around its cards: `start` (up to the open card
 * list) is sent as soon as the portfolio document is read; the cards follow as their reads arrive;
 * `end(counts)` closes the list with the counts in words.
 */
export function portfolioPageParts(head: PortfolioPageHead, notice?: string): { start: Html; end: (counts: { queued: number; done: number; failed: number }, problem?: string) => Html } {
  const heading = head.name ?? 'Portfolio';
  const around = layoutAround(heading, { bodyData: html` data-portfolio="${head.portfolioId}" data-page="portfolio" data-total="${head.total}"` });
  const start = html`${around.start}<h1>${heading}</h1>
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
${summary(head)}
${head.feeds.length > 0 ? html`<section class="feeds"><h2>Feeds</h2><ul id="feeds">${head.feeds.map(feedLine)}</ul></section>` : ''}
<ol class="cards" id="cards">
`;
  const end = (counts: { queued: number; done: number; failed: number }, problem?: string): Html => html`</ol>
${problem ? html`<p class="notice" role="alert" id="read-problem">${problem}</p>` : ''}
<p class="tally" id="tally">${counts.done} done · ${counts.queued} pending · ${counts.failed} failed, of ${head.total}.</p>${around.end}`;
  return { start, end };
}
