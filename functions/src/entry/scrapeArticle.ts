/** Deployed entry of the `scrapeArticle` function: loads Firestore, the fetcher and the extractor; no Pub/Sub client. */
import * as functions from '@google-cloud/functions-framework';
import { createScrapeFunction } from '../handlers/scrapeArticle';
import { startInstance } from './instance';

functions.http('scrapeArticle', createScrapeFunction(startInstance(process.env)));
