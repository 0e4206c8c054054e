/**
 * What every deployed function's instance shares: its configuration, one Firestore client and the
 * article store around it, the clock and the stdout logger.
 *
 * Made when the entry module loads, not inside the first request: functions-framework runs each
 * HTTP request inside a `domain`, and sockets and timers a client opens there stay bound to that
 * first request's domain for the life of the instance. The clients connect on first use, so loading
 * stays cheap; a bad setting fails the instance at start, naming the variable.
 */
import { Firestore } from '@google-cloud/firestore';
import { parseConfig, type Config } from '../config';
import { guardCompressedBodies } from '../http/compressedBodies';
import { jsonLineLogger, type Logger } from '../log';
import { firestoreStore, type ArticleStore } from '../store';

/** One instance's dependencies. */
export interface Instance {
  config: Config;
  store: ArticleStore;
  now: () => Date;
  log: Logger;
}

/** Reads the environment (through parseConfig) and makes the instance's store. */
export function startInstance(env: NodeJS.ProcessEnv): Instance {
  const config = parseConfig(env);
  // This process serves one function: keep compressed bodies of all its requests from the framework's parsers.
  guardCompressedBodies();
  // The client library picks up FIRESTORE_EMULATOR_HOST itself.
  const firestore = new Firestore({ projectId: config.projectId, ignoreUndefinedProperties: true });
  return { config, store: firestoreStore(firestore, config.collectionPrefix), now: () => new Date(), log: jsonLineLogger() };
}
