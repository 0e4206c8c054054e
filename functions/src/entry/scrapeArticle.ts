/** Deployed entry of the `scrapeArticle` function: loads Firestore, the fetcher and the extractor; a Pub/Sub client only once a feed message or a message that must wait needs one. */
import * as functions from '@google-cloud/functions-framework';
import { createScrapeFunction } from '../handlers/scrapeArticle';
import { lazyPublisher } from '../publisher';
import { lazyPubSub, requeuer } from '../retry/requeue';
import { startInstance } from './instance';

const instance = startInstance(process.env);
// Publishes only for a feed's articles, or to park a message that must wait: the client loads on first use.
functions.http(
  'scrapeArticle',
  createScrapeFunction({ ...instance, publishUrls: lazyPublisher(instance.config.projectId, instance.config.topic), requeue: requeuer(lazyPubSub(instance.config.projectId), instance.config) }),
);
