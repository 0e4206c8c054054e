/**
 * Monitoring of the pipeline: log-based metrics of article outcomes (from the structured lines
 * functions/src/log.ts writes), alert policies for what needs a person, an optional e-mail
 * notification channel, and one dashboard.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { ComponentOptions } from './function';

/** One clause of a Cloud Logging filter: `field` equals one of `anyOf`. Clauses are ANDed. */
export interface LogClause {
  field: string;
  anyOf: string[];
}

/** The Logging query language text of `clauses`: one comparison per line, lines ANDed. */
export function logFilter(clauses: LogClause[]): string {
  return clauses
    .map(({ field, anyOf }) => {
      const values = anyOf.map((value) => JSON.stringify(value));
      return `${field}=${values.length === 1 ? values[0] : `(${values.join(' OR ')})`}`;
    })
    .join('\n');
}

/** Cloud Run service names of the functions (2nd gen functions run as Cloud Run services of the same name). */
export interface MonitoredServices {
  api: string;
  scraper: string;
  recorder: string;
}

export interface MonitoringArgs {
  project: string;
  services: MonitoredServices;
  /** Push subscription of the URL topic (its backlog is the work waiting). */
  pushSubscription: pulumi.Input<string>;
  /** Alert when the URL subscription's oldest unacknowledged message is older than this. */
  oldestUnackedAgeSeconds: number;
  /** Alert when more than this share (0–1) of the scraper's answers are 5xx for 10 minutes. */
  scraperErrorRatio: number;
  /** Where alerts are e-mailed; without it the incidents only show in Cloud Monitoring. */
  alertEmail?: string;
}

/** Names of the log-based metrics (`logging.googleapis.com/user/<name>`). */
export const logMetricNames = {
  failed: 'articles_failed',
  done: 'articles_done',
} as const;

/** Filters of the log-based metrics; exported so tests can run them against the functions' real log lines. */
export function outcomeFilters(services: MonitoredServices): { failed: LogClause[]; done: LogClause[] } {
  const cloudRun: LogClause = { field: 'resource.type', anyOf: ['cloud_run_revision'] };
  return {
    // The scraper logs permanent failures (404, blocked, not HTML…), the recorder dead letters:
    // both are articles that ended `failed`, with the reason in `code`.
    failed: [
      cloudRun,
      { field: 'resource.labels.service_name', anyOf: [services.scraper, services.recorder] },
      { field: 'jsonPayload.outcome', anyOf: ['failed'] },
    ],
    done: [cloudRun, { field: 'resource.labels.service_name', anyOf: [services.scraper] }, { field: 'jsonPayload.outcome', anyOf: ['done'] }],
  };
}

const userMetric = (name: string): string => `logging.googleapis.com/user/${name}`;

function cloudRunFilter(metric: string, service: string, extra = ''): string {
  return `metric.type="${metric}" AND resource.type="cloud_run_revision" AND resource.labels.service_name="${service}"${extra}`;
}

/** The dashboard's JSON (Cloud Monitoring `Dashboard` resource), built from the names it charts. */
export function dashboardJson(input: { services: MonitoredServices; pushSubscription: string }): string {
  const { services, pushSubscription } = input;
  const perMinute = { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_DELTA' };
  const series = (filter: string, aggregation: Record<string, unknown>, legend?: string) => ({
    timeSeriesQuery: { timeSeriesFilter: { filter, aggregation } },
    plotType: 'LINE',
    ...(legend === undefined ? {} : { legendTemplate: legend }),
  });
  const chart = (title: string, dataSets: unknown[], yLabel: string) => ({ title, xyChart: { dataSets, yAxis: { label: yLabel, scale: 'LINEAR' } } });
  const subscriptionFilter = (metric: string) => `metric.type="pubsub.googleapis.com/subscription/${metric}" AND resource.type="pubsub_subscription" AND resource.labels.subscription_id="${pushSubscription}"`;
  const functions = [services.api, services.scraper, services.recorder];
  const widgets = [
    chart(
      'URLs done / failed per minute',
      [
        series(`metric.type="${userMetric(logMetricNames.done)}"`, { ...perMinute, crossSeriesReducer: 'REDUCE_SUM' }, 'done'),
        series(`metric.type="${userMetric(logMetricNames.failed)}"`, { ...perMinute, crossSeriesReducer: 'REDUCE_SUM', groupByFields: ['metric.label.code'] }, 'failed: ${metric.labels.code}'),
      ],
      'URLs per minute',
    ),
    chart(
      'URL backlog',
      [
        series(subscriptionFilter('num_undelivered_messages'), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }, 'unacknowledged messages'),
        series(subscriptionFilter('oldest_unacked_message_age'), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }, 'oldest unacknowledged (s)'),
      ],
      'messages / seconds',
    ),
    chart('Dead letters per minute', [series(subscriptionFilter('dead_letter_message_count'), { ...perMinute, crossSeriesReducer: 'REDUCE_SUM' }, 'dead-lettered')], 'messages per minute'),
    chart(
      'Function latency (p95)',
      functions.map((service) =>
        series(cloudRunFilter('run.googleapis.com/request_latencies', service), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_PERCENTILE_95', crossSeriesReducer: 'REDUCE_MAX' }, service),
      ),
      'ms',
    ),
    chart(
      'Function instances',
      functions.map((service) =>
        series(cloudRunFilter('run.googleapis.com/container/instance_count', service), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX', crossSeriesReducer: 'REDUCE_SUM' }, service),
      ),
      'instances',
    ),
  ];
  return JSON.stringify({
    displayName: 'Portfolio scraper',
    mosaicLayout: { columns: 12, tiles: widgets.map((widget, index) => ({ xPos: (index % 2) * 6, yPos: Math.floor(index / 2) * 4, width: 6, height: 4, widget })) },
  });
}

/** Log-based metrics, alert policies, notification channel and dashboard. */
export class Monitoring extends pulumi.ComponentResource {
  readonly failedMetric: gcp.logging.Metric;
  readonly doneMetric: gcp.logging.Metric;
  readonly notificationChannel?: gcp.monitoring.NotificationChannel;
  readonly deadLetterAlert: gcp.monitoring.AlertPolicy;
  readonly backlogAlert: gcp.monitoring.AlertPolicy;
  readonly scraperErrorAlert: gcp.monitoring.AlertPolicy;
  readonly dashboard: gcp.monitoring.Dashboard;

  constructor(name: string, args: MonitoringArgs, opts: ComponentOptions = {}) {
    super('portfolio:monitoring:Monitoring', name, {}, opts);
    const child = { parent: this, dependsOn: opts.dependsOn };
    const { project, services } = args;
    const filters = outcomeFilters(services);

    this.failedMetric = new gcp.logging.Metric(
      `${name}-articles-failed`,
      {
        project,
        name: logMetricNames.failed,
        description: 'Articles that ended failed, by error code (scraper: permanent failures; recorder: dead-lettered)',
        filter: logFilter(filters.failed),
        metricDescriptor: {
          metricKind: 'DELTA',
          valueType: 'INT64',
          unit: '1',
          labels: [{ key: 'code', valueType: 'STRING', description: 'Error code, e.g. http-404 or dead-lettered' }],
        },
        labelExtractors: { code: 'EXTRACT(jsonPayload.code)' },
      },
      child,
    );
    this.doneMetric = new gcp.logging.Metric(
      `${name}-articles-done`,
      {
        project,
        name: logMetricNames.done,
        description: 'Articles scraped and stored',
        filter: logFilter(filters.done),
        metricDescriptor: { metricKind: 'DELTA', valueType: 'INT64', unit: '1' },
      },
      child,
    );

    if (args.alertEmail !== undefined) {
      this.notificationChannel = new gcp.monitoring.NotificationChannel(
        `${name}-email`,
        { project, displayName: `Portfolio scraper alerts (${args.alertEmail})`, type: 'email', labels: { email_address: args.alertEmail } },
        child,
      );
    }
    const notificationChannels = this.notificationChannel ? [this.notificationChannel.id] : [];
    const policy = (suffix: string, displayName: string, content: string, condition: gcp.types.input.monitoring.AlertPolicyCondition, severity: string) =>
      new gcp.monitoring.AlertPolicy(
        `${name}-${suffix}`,
        {
          project,
          displayName,
          combiner: 'OR',
          conditions: [condition],
          notificationChannels,
          severity,
          documentation: { content, mimeType: 'text/markdown' },
          alertStrategy: { autoClose: '1800s' },
        },
        child,
      );

    const subscription = pulumi.output(args.pushSubscription);
    this.deadLetterAlert = policy(
      'dead-letters',
      'Article URLs dead-lettered',
      'A URL failed every delivery attempt and went to the dead-letter topic; its article is now `failed` with code `dead-lettered`. ' +
        'Read the dead letters (README, "What failed, and why") and the article\'s `lastError`; resubmit the URL once its cause is fixed.',
      {
        displayName: 'A message reached the dead-letter topic',
        conditionThreshold: {
          filter: pulumi.interpolate`metric.type="pubsub.googleapis.com/subscription/dead_letter_message_count" AND resource.type="pubsub_subscription" AND resource.labels.subscription_id="${subscription}"`,
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_DELTA', crossSeriesReducer: 'REDUCE_SUM' }],
          comparison: 'COMPARISON_GT',
          thresholdValue: 0,
          duration: '0s',
          trigger: { count: 1 },
        },
      },
      'WARNING',
    );
    this.backlogAlert = policy(
      'backlog-age',
      'Article URLs waiting too long',
      `The URL subscription's oldest unacknowledged message is older than ${args.oldestUnackedAgeSeconds} s (\`backlogAlertAgeSeconds\`), longer than every attempt and backoff of one message take: ` +
        'deliveries are not being made or not being acknowledged. Check that the scraper is deployed and answering, its logs for errors, ' +
        'and whether it is at its maximum instances (dashboard); the push identity must keep run.invoker on it.',
      {
        displayName: 'Oldest unacknowledged URL message too old',
        conditionThreshold: {
          filter: pulumi.interpolate`metric.type="pubsub.googleapis.com/subscription/oldest_unacked_message_age" AND resource.type="pubsub_subscription" AND resource.labels.subscription_id="${subscription}"`,
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }],
          comparison: 'COMPARISON_GT',
          thresholdValue: args.oldestUnackedAgeSeconds,
          duration: '300s',
          trigger: { count: 1 },
        },
      },
      'ERROR',
    );
    this.scraperErrorAlert = policy(
      'scraper-errors',
      'Scraper error rate high',
      `More than ${Math.round(args.scraperErrorRatio * 100)} % of the scraper's answers were 5xx for 10 minutes (\`scraperErrorRatePercent\`). ` +
        'Some 503s are normal (a site down, answered so Pub/Sub retries later); this many usually means Firestore is unavailable, ' +
        'the function crashes or times out, or one large portfolio points at a failing site. Read the scraper\'s WARNING/ERROR logs by `code`.',
      {
        displayName: 'Share of scraper answers that are 5xx',
        conditionThreshold: {
          filter: cloudRunFilter('run.googleapis.com/request_count', services.scraper, ' AND metric.labels.response_code_class="5xx"'),
          aggregations: [{ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }],
          denominatorFilter: cloudRunFilter('run.googleapis.com/request_count', services.scraper),
          denominatorAggregations: [{ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }],
          comparison: 'COMPARISON_GT',
          thresholdValue: args.scraperErrorRatio,
          duration: '600s',
          trigger: { count: 1 },
        },
      },
      'ERROR',
    );

    this.dashboard = new gcp.monitoring.Dashboard(
      `${name}-dashboard`,
      {
        project,
        dashboardJson: subscription.apply((pushSubscription) => dashboardJson({ services, pushSubscription })),
      },
      // The charts of user metrics need the metrics to exist.
      { parent: this, dependsOn: [...(opts.dependsOn ?? []), this.failedMetric, this.doneMetric] },
    );

    this.registerOutputs({ dashboard: this.dashboard.id, failedMetric: this.failedMetric.name });
  }
}
