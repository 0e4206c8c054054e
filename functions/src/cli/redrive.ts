/**
 * Replays a portfolio's dead letters from the dead-letter audit subscription:
 *
 *   npm run redrive -- --portfolio ID [--dry-run] [--idle-seconds 3] [--limit N] [--subscription NAME]
 *
 * Against the local stack set PUBSUB_EMULATOR_HOST (npm start prints it) and GOOGLE_CLOUD_PROJECT; in
 * production run it with credentials allowed to subscribe to the audit subscription and publish to
 * the article topic (see README, Deploy). Prints one line per message and a summary; exits 1 on a
 * usage error, 2 when Pub/Sub failed.
 */
import { parseArgs } from 'node:util';
import { PubSub } from '@google-cloud/pubsub';
import { parseConfig } from '../config';
import { redrive } from '../redrive';
import { topology } from '../topology';

const USAGE = 'usage: npm run redrive -- --portfolio ID [--dry-run] [--idle-seconds 3] [--limit N] [--subscription NAME]';

async function main(): Promise<number> {
  let values: { portfolio?: string; 'dry-run'?: boolean; 'idle-seconds'?: string; limit?: string; subscription?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { portfolio: { type: 'string' }, 'dry-run': { type: 'boolean' }, 'idle-seconds': { type: 'string' }, limit: { type: 'string' }, subscription: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const idle = Number(values['idle-seconds'] ?? 3);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (!values.portfolio || !(idle > 0) || (limit !== undefined && !(Number.isInteger(limit) && limit > 0))) {
    console.error(USAGE);
    return 1;
  }
  const config = parseConfig(process.env);
  const pubsub = new PubSub({ projectId: config.projectId });
  try {
    const result = await redrive(pubsub, {
      portfolioId: values.portfolio,
      topic: config.topic,
      subscription: values.subscription ?? topology.deadLetterAuditSubscription,
      idleMs: idle * 1000,
      limit,
      dryRun: values['dry-run'],
      onMessage: (event) => {
        if (event.action !== 'left') console.log(`${event.action} ${event.messageId}`);
      },
    });
    const verb = values['dry-run'] ? `would republish ${result.found}` : `republished ${result.republished}`;
    console.log(`${verb} dead letter(s) of portfolio ${values.portfolio}; left ${result.left} of other portfolios on ${values.subscription ?? topology.deadLetterAuditSubscription}.`);
    return 0;
  } catch (error) {
    console.error(`Pub/Sub failed: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  } finally {
    await pubsub.close().catch(() => undefined);
  }
}

main().then((code) => process.exit(code));
