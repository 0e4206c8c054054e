/** Deployed entry of the `recordDeadLetter` function: loads Firestore and the recorder; the Pub/Sub client on its first re-queue. */
import * as functions from '@google-cloud/functions-framework';
import { createDeadLetterFunction } from '../handlers/recordDeadLetter';
import { lazyPubSub, requeuer } from '../retry/requeue';
import { startInstance } from './instance';

const instance = startInstance(process.env);
// Publishes only to park a message that must wait (or send it on): the client loads on first use.
functions.http('recordDeadLetter', createDeadLetterFunction({ ...instance, requeue: requeuer(lazyPubSub(instance.config.projectId), instance.config) }));
