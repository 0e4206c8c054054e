/**
 * The page script (served as /static/portfolio.<hash>.js; there is no inline script anywhere). On the
 * portfolio page it polls the status JSON with back-off, telling the API which articles it already
 * holds as done or failed (`?terminal=` bitmap), so each poll reads only what is still pending, and
 * stops once everything is terminal. It renders a changed card the way pages.ts does, with DOM text
 * nodes only (scraped text is never parsed as HTML); it localises dates to the reader's time zone,
 * swaps a banner that fails to load for the placeholder, and sends Retry failed without a reload.
 * Plain ES2017 for any browser; kept as a string so every build and bundler ships it as is.
 */
import { REASONS } from './reasons';

export const portfolioScript = String.raw`(function () {
  'use strict';
  var REASONS = __REASONS__;
  var body = document.body;
  var formError = document.getElementById('form-error');
  if (formError) formError.focus();
  if (!body || body.getAttribute('data-page') !== 'portfolio') return;

  var portfolioId = body.getAttribute('data-portfolio');
  var cards = document.getElementById('cards');
  var live = document.getElementById('live');
  var progress = document.getElementById('progress');
  var tally = document.getElementById('tally');
  var retryForm = document.querySelector('form.retry');
  var MIN_DELAY = 1000;
  var MAX_DELAY = 15000;
  var delay = MIN_DELAY;
  var timer = null;
  var polling = false;
  /** status per article index: 'queued' | 'done' | 'failed' */
  var statuses = [];
  var total = 0;
  var feedsPending = document.querySelectorAll('#feeds .badge.pending').length > 0;
  var feedsFailed = document.querySelectorAll('#feeds .badge.failed').length > 0;
  var dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
  var timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeHref(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  function reason(error) {
    var own = REASONS[error.code];
    if (!own) {
      var match = /^http-(\d{3})$/.exec(error.code);
      if (match && match[1].charAt(0) === '5') own = 'The site had an error of its own (' + match[1] + ') every time we tried.';
      else if (match && match[1].charAt(0) === '4') own = 'The site refused the request (' + match[1] + ').';
      else own = error.message;
    }
    if (error.code === 'dead-lettered' && error.cause) return own + ' The last attempt: ' + reason(error.cause);
    return own;
  }

  function localise(root) {
    var times = root.querySelectorAll('time[data-format]');
    for (var i = 0; i < times.length; i++) {
      var date = new Date(times[i].getAttribute('datetime'));
      if (isNaN(date.getTime())) continue;
      times[i].textContent = (times[i].getAttribute('data-format') === 'time' ? timeFormat : dateFormat).format(date);
    }
  }

  function placeholder() {
    var node = el('div', 'placeholder');
    node.setAttribute('role', 'img');
    node.setAttribute('aria-label', 'No banner image');
    return node;
  }

  // A banner that fails to load is replaced by the neutral placeholder (no inline onerror: CSP).
  function watchImages(root) {
    var images = root.querySelectorAll('.banner img');
    for (var i = 0; i < images.length; i++) {
      (function (img) {
        var swap = function () {
          if (img.parentNode) img.parentNode.replaceChild(placeholder(), img);
        };
        if (img.complete && img.naturalWidth === 0 && img.getAttribute('src')) swap();
        else img.addEventListener('error', swap);
      })(images[i]);
    }
  }

  function timeElement(iso, format) {
    var node = el('time', null, iso);
    node.setAttribute('datetime', iso);
    node.setAttribute('data-format', format);
    return node;
  }

  function statusLine(article, box) {
    if (article.status === 'done') return;
    if (article.status === 'failed') {
      var error = article.error || { code: 'unknown', message: 'No reason was recorded.' };
      var line = el('p', 'reason');
      line.appendChild(el('span', 'badge failed', 'Failed'));
      line.appendChild(document.createTextNode(' ' + reason(error)));
      box.appendChild(line);
      var details = el('details', 'detail');
      details.appendChild(el('summary', null, 'Details'));
      var detail = el('p');
      detail.appendChild(el('code', null, error.code));
      detail.appendChild(document.createTextNode(' ' + error.message));
      details.appendChild(detail);
      box.appendChild(details);
      return;
    }
    var pending = el('p', 'reason');
    pending.appendChild(el('span', 'badge pending', 'Pending'));
    pending.appendChild(document.createTextNode(' Being read' + (article.attempts > 0 ? ' (attempt ' + article.attempts + ')' : '')));
    if (article.nextAttemptAt) {
      pending.appendChild(document.createTextNode(', next attempt '));
      pending.appendChild(timeElement(article.nextAttemptAt, 'time'));
    }
    if (article.waitingFor) pending.appendChild(document.createTextNode(', waiting for ' + article.waitingFor));
    pending.appendChild(document.createTextNode('.'));
    box.appendChild(pending);
  }

  function card(article, index) {
    var item = el('li', 'card ' + article.status);
    item.setAttribute('data-index', String(index));
    item.setAttribute('data-status', article.status);
    var title = article.title || article.url;
    var banner = el('div', 'banner');
    var image = safeHref(article.bannerImage);
    if (image) {
      var img = document.createElement('img');
      img.setAttribute('alt', 'Banner image of ' + title);
      img.setAttribute('width', '640');
      img.setAttribute('height', '360');
      img.setAttribute('loading', 'lazy');
      img.setAttribute('decoding', 'async');
      img.setAttribute('referrerpolicy', 'no-referrer');
      img.setAttribute('src', image);
      banner.appendChild(img);
    } else {
      banner.appendChild(placeholder());
    }
    item.appendChild(banner);
    var box = el('div', 'body');
    var heading = el('h2', 'title');
    var href = safeHref(article.url);
    if (href) {
      var link = el('a', null, title);
      link.setAttribute('href', href);
      link.setAttribute('rel', 'noopener noreferrer nofollow');
      heading.appendChild(link);
    } else {
      heading.textContent = title;
    }
    box.appendChild(heading);
    var authors = Array.isArray(article.authors) ? article.authors : article.author ? [article.author] : [];
    var meta = [];
    if (authors.length > 0) meta.push(el('span', 'authors', authors.join(', ')));
    if (article.publishedAt) meta.push(timeElement(article.publishedAt, 'date'));
    if (article.readingTimeMinutes !== null && article.readingTimeMinutes !== undefined) meta.push(el('span', 'reading', article.readingTimeMinutes + ' min read'));
    if (meta.length > 0) {
      var metaLine = el('p', 'meta');
      for (var m = 0; m < meta.length; m++) {
        if (m > 0) metaLine.appendChild(document.createTextNode(' · '));
        metaLine.appendChild(meta[m]);
      }
      box.appendChild(metaLine);
    }
    statusLine(article, box);
    if (article.outline && article.outline.length > 0) {
      var outline = el('ol', 'outline');
      outline.setAttribute('aria-label', 'Outline');
      for (var o = 0; o < article.outline.length; o++) outline.appendChild(el('li', null, article.outline[o]));
      box.appendChild(outline);
    }
    item.appendChild(box);
    localise(item);
    watchImages(item);
    return item;
  }

  function feedItem(feed) {
    var item = el('li');
    item.appendChild(el('code', null, feed.url));
    if (feed.status === 'done') {
      item.appendChild(document.createTextNode(': found ' + (feed.found || 0) + ' articles, added ' + (feed.added || 0) + '.'));
    } else if (feed.status === 'failed') {
      item.appendChild(document.createTextNode(': '));
      item.appendChild(el('span', 'badge failed', 'Failed'));
      item.appendChild(document.createTextNode(' ' + (feed.error ? reason(feed.error) + ' ' + feed.error.message : '')));
    } else {
      item.appendChild(document.createTextNode(': '));
      item.appendChild(el('span', 'badge pending', 'Pending'));
      item.appendChild(document.createTextNode(' being read.'));
    }
    return item;
  }

  function renderFeeds(feeds) {
    if (!Array.isArray(feeds)) return;
    feedsPending = feeds.some(function (feed) { return feed.status === 'queued'; });
    feedsFailed = feeds.some(function (feed) { return feed.status === 'failed'; });
    var list = document.getElementById('feeds');
    if (!list) {
      if (feeds.length === 0) return;
      var section = el('section', 'feeds');
      section.appendChild(el('h2', null, 'Feeds'));
      list = el('ul');
      list.id = 'feeds';
      section.appendChild(list);
      cards.parentNode.insertBefore(section, cards);
    }
    list.textContent = '';
    feeds.forEach(function (feed) { list.appendChild(feedItem(feed)); });
  }

  function counts() {
    var result = { queued: 0, done: 0, failed: 0 };
    for (var i = 0; i < total; i++) result[statuses[i] || 'queued'] += 1;
    return result;
  }

  function renderSummary() {
    var c = counts();
    ['done', 'queued', 'failed'].forEach(function (key) {
      var node = document.querySelector('[data-count="' + key + '"]');
      if (node) node.textContent = String(c[key]);
    });
    if (progress) {
      progress.max = Math.max(total, 1);
      progress.value = c.done + c.failed;
      progress.textContent = c.done + c.failed + ' of ' + total;
    }
    if (tally) tally.textContent = c.done + ' done · ' + c.queued + ' pending · ' + c.failed + ' failed, of ' + total + '.';
    if (retryForm) retryForm.hidden = c.failed === 0 && !feedsFailed;
    return c;
  }

  function terminalBitmap() {
    var bytes = new Uint8Array(Math.ceil(total / 8));
    for (var i = 0; i < total; i++) if (statuses[i] === 'done' || statuses[i] === 'failed') bytes[i >> 3] |= 1 << (i & 7);
    var text = '';
    for (var b = 0; b < bytes.length; b++) text += String.fromCharCode(bytes[b]);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function finished() {
    return counts().queued === 0 && !feedsPending;
  }

  function schedule() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (finished()) {
      body.setAttribute('data-settled', 'true');
      return;
    }
    body.removeAttribute('data-settled');
    timer = setTimeout(poll, delay);
  }

  function apply(view) {
    var changed = false;
    if (typeof view.total === 'number' && view.total !== total) {
      total = view.total;
      changed = true;
    }
    (view.articles || []).forEach(function (article) {
      var index = article.index;
      var existing = cards.querySelector('li.card[data-index="' + index + '"]');
      if (existing && existing.getAttribute('data-status') === article.status && article.status === 'queued' && existing.getAttribute('data-attempts') === String(article.attempts)) return;
      var fresh = card(article, index);
      fresh.setAttribute('data-attempts', String(article.attempts));
      if (existing) cards.replaceChild(fresh, existing);
      else cards.appendChild(fresh);
      if (statuses[index] !== article.status) changed = true;
      statuses[index] = article.status;
    });
    renderFeeds(view.feeds);
    var c = renderSummary();
    if (changed && finished()) live.textContent = 'Finished: ' + c.done + ' done, ' + c.failed + ' failed.';
    return changed;
  }

  function poll() {
    timer = null;
    if (polling) return;
    polling = true;
    fetch('/portfolios/' + encodeURIComponent(portfolioId) + '?terminal=' + terminalBitmap(), { headers: { accept: 'application/json' }, cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (view) {
        delay = apply(view) ? MIN_DELAY : Math.min(MAX_DELAY, Math.round(delay * 1.6));
      })
      .catch(function () {
        delay = Math.min(MAX_DELAY, delay * 2);
      })
      .then(function () {
        polling = false;
        schedule();
      });
  }

  if (retryForm) {
    retryForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var button = retryForm.querySelector('button');
      if (button) button.disabled = true;
      fetch(retryForm.getAttribute('action'), { method: 'POST', headers: { accept: 'application/json' } })
        .then(function (response) {
          return response.json().then(function (answer) {
            if (!response.ok) throw new Error(answer && answer.error ? answer.error.message : 'HTTP ' + response.status);
            return answer;
          });
        })
        .then(function (answer) {
          // The failed articles are pending again: read them on the next poll.
          for (var i = 0; i < total; i++) if (statuses[i] === 'failed') statuses[i] = 'queued';
          var feeds = answer.feedsQueued || 0;
          if (feeds > 0) {
            feedsPending = true;
            feedsFailed = false;
          }
          live.textContent = answer.queued + ' failed article' + (answer.queued === 1 ? '' : 's') + (feeds > 0 ? ' and ' + feeds + ' failed feed' + (feeds === 1 ? '' : 's') : '') + ' queued again.';
          renderSummary();
          delay = MIN_DELAY;
          schedule();
        })
        .catch(function (error) {
          live.textContent = 'Retry failed: ' + error.message;
        })
        .then(function () {
          if (button) button.disabled = false;
        });
    });
  }

  // The server streamed the cards it could read; any it could not are pending, read on the first poll.
  var initial = cards.querySelectorAll('li.card');
  for (var i = 0; i < initial.length; i++) {
    statuses[Number(initial[i].getAttribute('data-index'))] = initial[i].getAttribute('data-status');
  }
  total = Number(body.getAttribute('data-total')) || initial.length;
  renderSummary();
  localise(document);
  watchImages(document);
  schedule();
})();
`.replace('__REASONS__', JSON.stringify(REASONS));
