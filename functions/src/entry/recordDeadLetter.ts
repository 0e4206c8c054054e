/** Deployed entry of the `recordDeadLetter` function: loads Firestore and the recorder only. */
import * as functions from '@google-cloud/functions-framework';
import { createDeadLetterFunction } from '../handlers/recordDeadLetter';
import { startInstance } from './instance';

functions.http('recordDeadLetter', createDeadLetterFunction(startInstance(process.env)));
