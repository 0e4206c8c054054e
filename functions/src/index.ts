/**
 * Entry point for functions-framework (`--target=api | scrapeArticle | recordDeadLetter`). Each
 * deployed function loads this module; the clients are created on the first request and reused
 * by every later request of the instance.
 */
import { Firestore } from '@google-cloud/firestore';
import * as functions from '@google-cloud/functions-framework';
import { PubSub } from '@google-cloud/pubsub';
import { createFunctions, type PipelineFunctions } from './app';
import { parseConfig } from './config';

let instance: PipelineFunctions | undefined;

function pipeline(): PipelineFunctions {
  if (instance === undefined) {
    const config = parseConfig(process.env);
    instance = createFunctions({
      config,
      // The client libraries pick up PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST themselves.
      pubsub: new PubSub({ projectId: config.projectId }),
      firestore: new Firestore({ projectId: config.projectId, ignoreUndefinedProperties: true }),
    });
  }
  return instance;
}

functions.http('api', (req, res) => pipeline().api(req, res));
functions.http('scrapeArticle', (req, res) => pipeline().scrapeArticle(req, res));
functions.http('recordDeadLetter', (req, res) => pipeline().recordDeadLetter(req, res));
