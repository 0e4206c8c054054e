import assert from 'node:assert/strict';
import { Firestore } from '@google-cloud/firestore';
import type { Request, Response } from '@google-cloud/functions-framework';
import { PubSub } from '@google-cloud/pubsub';
import { startFirestoreEmulator, type FirestoreEmulator } from '../../emulator/firestore';
import { createFunctions } from '../../functions/src/app';
import { parseConfig } from '../../functions/src/config';
import { FetchError } from '../../functions/src/fetch/types';
import { memoryLogger, type LogEntry } from '../../functions/src/log';
import { topology } from '../../functions/src/topology';
import type { CapturedResource } from '../../infra/policies';
import { functionNames } from '../../infra/stack';
import { article, page, pushBody, scriptedFetch, urlMessage } from '../functions/fakes';
import { FakeBuild, ofType, runStack, type StackRun } from './mocks';

process.env.METADATA_SERVER_DETECTION ??= 'none';

type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const METRIC = 'gcp:logging/metric:Metric';
const POLICY = 'gcp:monitoring/alertPolicy:AlertPolicy';
const CHANNEL = 'gcp:monitoring/notificationChannel:NotificationChannel';
const DASHBOARD = 'gcp:monitoring/dashboard:Dashboard';

function all(run: StackRun, type: string): Props[] {
  return ofType(run, type).map((resource: CapturedResource) => resource.properties as Props);
}

function policyNamed(run: StackRun, displayName: string): Props {
  const found = all(run, POLICY).find((policy) => policy.displayName === displayName);
  assert.ok(found, `no alert policy "${displayName}"`);
  return found;
}

/**
 * Evaluates the Logging filters the program writes — one `field=value` or `field=("a" OR "b")`
 * comparison per line, lines ANDed — against a log entry as Cloud Logging stores it. Anything else
 * in a filter fails the test rather than being ignored.
 */
function matches(filter: string, entry: Record<string, unknown>): boolean {
  return filter.split('\n').every((line) => {
    const parsed = /^([\w.]+)=(?:("(?:[^"\\]|\\.)*")|\(((?:"(?:[^"\\]|\\.)*"(?: OR )?)+)\))$/.exec(line);
    assert.ok(parsed, `filter line this test cannot read: ${line}`);
    const values = parsed[2] !== undefined ? [parsed[2]] : parsed[3]!.split(' OR ');
    const actual = parsed[1]!.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], entry);
    return values.some((value) => JSON.parse(value) === actual);
  });
}

/** A structured stdout line of a Cloud Run service, as Cloud Logging records it: `severity` lifted out, the rest in jsonPayload. */
function asLogged(line: LogEntry, service: string): Record<string, unknown> {
  const { severity, ...payload } = JSON.parse(JSON.stringify(line)) as LogEntry;
  return { severity, jsonPayload: payload, resource: { type: 'cloud_run_revision', labels: { service_name: service } } };
}

describe('infra: monitoring (log metrics, alerts, dashboard) under mocks', () => {
  let build: FakeBuild;
  let run: StackRun;

  before(async () => {
    build = new FakeBuild();
    run = await runStack(build);
  });
  after(() => build.remove());

  it('counts failed articles by error code and done articles from the functions\' log lines', () => {
    const failed = all(run, METRIC).find((metric) => metric.name === 'articles_failed');
    assert.ok(failed);
    assert.deepEqual(failed.labelExtractors, { code: 'EXTRACT(jsonPayload.code)' });
    assert.deepEqual(failed.metricDescriptor.labels.map((label: Props) => label.key), ['code']);
    assert.equal(failed.metricDescriptor.metricKind, 'DELTA');
    assert.ok(all(run, METRIC).some((metric) => metric.name === 'articles_done'));
  });

  it('alerts on any dead letter, on an old backlog (default: every attempt and backoff of one message) and on the scraper\'s 5xx share', () => {
    const deadLetters = policyNamed(run, 'Article URLs dead-lettered').conditions[0].conditionThreshold;
    assert.match(deadLetters.filter, /subscription\/dead_letter_message_count/);
    assert.match(deadLetters.filter, new RegExp(`subscription_id="${topology.pushSubscription}"`));
    assert.equal(deadLetters.comparison, 'COMPARISON_GT');
    assert.equal(deadLetters.thresholdValue, 0);

    const backlog = policyNamed(run, 'Article URLs waiting too long').conditions[0].conditionThreshold;
    assert.match(backlog.filter, /subscription\/oldest_unacked_message_age/);
    assert.match(backlog.filter, new RegExp(`subscription_id="${topology.pushSubscription}"`));
    const longest = topology.maxDeliveryAttempts * (topology.ackDeadlineSeconds + topology.productionBackoff.maximumBackoffSeconds);
    assert.equal(backlog.thresholdValue, longest);

    const errors = policyNamed(run, 'Scraper error rate high').conditions[0].conditionThreshold;
    assert.match(errors.filter, new RegExp(`service_name="${functionNames.scraper}".*response_code_class="5xx"`));
    assert.match(errors.denominatorFilter, new RegExp(`service_name="${functionNames.scraper}"`));
    assert.doesNotMatch(errors.denominatorFilter, /response_code_class/);
    assert.equal(errors.thresholdValue, 0.2);

    for (const policy of all(run, POLICY)) {
      assert.ok(policy.documentation.content.length > 80, `${policy.displayName} says what it means and what to do`);
      assert.deepEqual(policy.notificationChannels, [], 'no channel unless alertEmail is set');
    }
    assert.equal(all(run, CHANNEL).length, 0);
  });

  it('takes the thresholds and an e-mail channel from config, and refuses a malformed address', async () => {
    const configured = await runStack(build, { alertEmail: 'oncall@example.com', backlogAlertAgeSeconds: '900', scraperErrorRatePercent: '35' });
    const channels = all(configured, CHANNEL);
    assert.equal(channels.length, 1);
    assert.equal(channels[0]!.type, 'email');
    assert.deepEqual(channels[0]!.labels, { email_address: 'oncall@example.com' });
    for (const policy of all(configured, POLICY)) assert.equal(policy.notificationChannels.length, 1, policy.displayName);
    assert.equal(policyNamed(configured, 'Article URLs waiting too long').conditions[0].conditionThreshold.thresholdValue, 900);
    assert.equal(policyNamed(configured, 'Scraper error rate high').conditions[0].conditionThreshold.thresholdValue, 0.35);
    await assert.rejects(runStack(build, { alertEmail: 'not an address' }), /alertEmail: expected an e-mail address/);
    await assert.rejects(runStack(build, { backlogAlertAgeSeconds: '5' }), /backlogAlertAgeSeconds/);
  });

  it('charts done/failed per minute, the backlog, dead letters, and each function\'s latency and instances', () => {
    const dashboards = all(run, DASHBOARD);
    assert.equal(dashboards.length, 1);
    const tiles = (JSON.parse(dashboards[0]!.dashboardJson as string) as Props).mosaicLayout.tiles as Props[];
    const byTitle = new Map(tiles.map((tile) => [tile.widget.title as string, (tile.widget.xyChart.dataSets as Props[]).map((set) => set.timeSeriesQuery.timeSeriesFilter.filter as string)]));
    assert.deepEqual(byTitle.get('URLs done / failed per minute'), ['metric.type="logging.googleapis.com/user/articles_done"', 'metric.type="logging.googleapis.com/user/articles_failed"']);
    const backlog = byTitle.get('URL backlog') ?? [];
    assert.ok(backlog.some((filter) => filter.includes('num_undelivered_messages') && filter.includes(`subscription_id="${topology.pushSubscription}"`)));
    assert.ok(byTitle.get('Dead letters per minute')?.[0]?.includes('dead_letter_message_count'));
    for (const title of ['Function latency (p95)', 'Function instances']) {
      const services = (byTitle.get(title) ?? []).map((filter) => /service_name="([^"]+)"/.exec(filter)?.[1]);
      assert.deepEqual(services, [functionNames.api, functionNames.scraper, functionNames.recorder], title);
    }
    for (const filters of byTitle.values()) for (const filter of filters) assert.ok(!filter.includes('undefined'), filter);
  });

  it('declares the monitoring APIs before the metrics and policies that need them', () => {
    const services = all(run, 'gcp:projects/service:Service').map((service) => service.service);
    assert.ok(services.includes('monitoring.googleapis.com') && services.includes('logging.googleapis.com'));
    const metric = ofType(run, METRIC)[0];
    assert.ok(metric?.dependsOn?.some((dependency) => dependency.includes('api-monitoring') || dependency.includes('api-logging')));
  });
});

describe('infra: the failed-articles metric matches the log lines the functions write', () => {
  let emulator: FirestoreEmulator;
  let firestore: Firestore;
  let pubsub: PubSub;
  let metrics: { failed: string; done: string };

  before(async () => {
    emulator = await startFirestoreEmulator({ kind: 'embedded' });
    firestore = new Firestore({ projectId: 'monitoring-test', host: emulator.host, ssl: false, ignoreUndefinedProperties: true });
    pubsub = new PubSub({ projectId: 'monitoring-test', apiEndpoint: '127.0.0.1:9', emulatorMode: true });
    const build = new FakeBuild();
    try {
      const run = await runStack(build);
      const filterOf = (name: string) => all(run, METRIC).find((metric) => metric.name === name)?.filter as string;
      metrics = { failed: filterOf('articles_failed'), done: filterOf('articles_done') };
    } finally {
      build.remove();
    }
  });

  after(async () => {
    await pubsub?.close();
    await firestore?.terminate();
    await emulator?.stop();
  });

  it('counts a permanent failure and a dead letter under their codes, not a success or a retry', async () => {
    const logs = memoryLogger();
    const done = urlMessage('https://example.com/monitoring-done');
    const gone = urlMessage('https://example.com/monitoring-404');
    const flaky = urlMessage('https://example.com/monitoring-503');
    const failing = Array.from({ length: 5 }, () => new FetchError('http-503', 'The site answered 503.', true));
    const script = scriptedFetch(page(done.canonicalUrl), new FetchError('http-404', 'The site answered 404.', false), ...failing);
    const functions = createFunctions({
      config: parseConfig({ GOOGLE_CLOUD_PROJECT: 'monitoring-test', COLLECTION_PREFIX: `m${Date.now()}-` }),
      pubsub,
      firestore,
      fetchPage: (url) => script.fetchPage(url),
      extractArticle: () => article('Done'),
      log: logs.log,
    });
    const call = async (handler: (req: Request, res: Response) => unknown, body: unknown): Promise<number> => {
      let status = 0;
      const res = { set: () => res, status: (code: number) => ((status = code), res), end: () => res } as unknown as Response;
      await handler({ body } as Request, res);
      return status;
    };
    assert.equal(await call(functions.scrapeArticle, pushBody(done)), 204);
    assert.equal(await call(functions.scrapeArticle, pushBody(gone)), 204);
    // Four retries, then the fifth fetch fails the round (dead-lettered, with the 503 as its cause) and
    // is still nacked, so Pub/Sub dead-letters the message.
    for (let attempt = 1; attempt <= 5; attempt++) assert.equal(await call(functions.scrapeArticle, pushBody(flaky)), 503);
    const scraperLines = logs.entries.splice(0).map((line) => asLogged(line, functionNames.scraper));
    // The dead letter that may still come finds the article failed already and changes nothing.
    assert.equal(await call(functions.recordDeadLetter, pushBody(flaky, { attributes: { CloudPubSubDeadLetterSourceDeliveryCount: '5' } })), 204);
    const recorderLines = logs.entries.splice(0).map((line) => asLogged(line, functionNames.recorder));
    const lines = [...scraperLines, ...recorderLines];
    assert.equal(lines.length, 8);

    const failedCodes = lines.filter((line) => matches(metrics.failed, line)).map((line) => (line.jsonPayload as LogEntry).code);
    assert.deepEqual(failedCodes, ['http-404', 'dead-lettered']);
    const doneUrls = lines.filter((line) => matches(metrics.done, line)).map((line) => (line.jsonPayload as LogEntry).url);
    assert.deepEqual(doneUrls, [done.canonicalUrl]);
    // A line of another service (the API) is never counted, whatever it says.
    assert.equal(matches(metrics.failed, { ...lines[1]!, resource: { type: 'cloud_run_revision', labels: { service_name: functionNames.api } } }), false);
  });
});

