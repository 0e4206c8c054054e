/** Deployed entry of the `scrapeArticle` function: loads Firestore, the fetcher and the extractor; a Pub/Sub client only once a feed message needs one. */
import * as functions from '@google-cloud/functions-framework';
import { createScrapeFunction } from '../handlers/scrapeArticle';
import { lazyPublisher } from '../publisher';
import { startInstance } from './instance';

const instance = startInstance(process.env);
functions.http('scrapeArticle', createScrapeFunction({ ...instance, publishUrls: lazyPublisher(instance.config.projectId, instance.config.topic) }));
