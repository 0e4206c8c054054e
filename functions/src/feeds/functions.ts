/**
 * The feed message's handler inside the scraper function (handed a push whose `kind` attribute is
 * `feed`): expand the portfolio's feeds, log one line, answer Pub/Sub as the article handler does.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { PublishUrls } from '../api';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { ScrapeDeps } from '../scrape';
import { PORTFOLIO_URL_BYTES_LIMIT, type ArticleStore } from '../store';
import { literalHostBlockReason } from '../fetch/guard';
import { expandFeed } from './expand';
import { answerDelivery } from './log';

/** Dependencies of the feed expander inside the scraper function. */
export interface FeedExpandDeps {
  store: ArticleStore;
  publishUrls: PublishUrls;
  now: () => Date;
  log: Logger;
  config: Config;
  fetchPage: ScrapeDeps['fetchPage'];
}

/** The scraper endpoint's handler for a feed message. */
export function feedExpandHandler(deps: FeedExpandDeps): (req: Request, res: Response) => Promise<void> {
  const feedDeps = {
    fetchPage: deps.fetchPage,
    getPortfolio: (portfolioId: string) => deps.store.getPortfolio(portfolioId),
    updatePortfolio: deps.store.updatePortfolio.bind(deps.store),
    publishUrls: deps.publishUrls,
    // The same rule as the API's for submitted URLs (the local stack lifts it to scrape loopback sites).
    blockReason: deps.config.fetch.allowPrivateNetworks ? () => null : literalHostBlockReason,
    now: deps.now,
    config: deps.config,
    portfolioUrlBytesLimit: PORTFOLIO_URL_BYTES_LIMIT,
  };
  return async (req, res) => {
    const started = Date.now();
    answerDelivery(deps.log, await expandFeed(req.body, feedDeps), res, started);
  };
}
