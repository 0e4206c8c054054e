/** Deployed entry of the `api` function: loads Firestore, Pub/Sub and the API, nothing of the scraper. */
import * as functions from '@google-cloud/functions-framework';
import { PubSub } from '@google-cloud/pubsub';
import { createApiFunction } from '../handlers/api';
import { startInstance } from './instance';

const instance = startInstance(process.env);
// The client library picks up PUBSUB_EMULATOR_HOST itself.
const pubsub = new PubSub({ projectId: instance.config.projectId });

functions.http('api', createApiFunction({ ...instance, pubsub }));
