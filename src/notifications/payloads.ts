import { type ChannelConfig, type Config, driftSettingsFor } from '../config.js';
import { ALERT_RULES, isTrafficKind } from '../rules/alerts.js';
import type { AlertView, NotificationEvent, RetrainRequestView } from '../views.js';

/** Where people open driftwatch: externalUrl, else the address the server listens on. */
function baseUrl(config: Config): string {
  const external = config.notifications.externalUrl;
  if (external) return external.replace(/\/+$/, '');
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return `http://${host}:${config.server.port}`;
}

/** The UI page when externalUrl is set (people click these links), else the API resource. */
export function alertLink(config: Config, id: number): string {
  return config.notifications.externalUrl
    ? `${baseUrl(config)}/ui/alerts/${id}`
    : `${baseUrl(config)}/v1/alerts/${id}`;
}

export function retrainLink(config: Config, id: number): string {
  return config.notifications.externalUrl
    ? `${baseUrl(config)}/ui/retrain-requests/${id}`
    : `${baseUrl(config)}/v1/retrain-requests/${id}`;
}

function eventLink(config: Config, event: NotificationEvent): string | undefined {
  if (event.alert) return alertLink(config, event.alert.id);
  if (event.retrainRequest) return retrainLink(config, event.retrainRequest.id);
  return undefined;
}

/** The rulebook's title of the kind, as a message starts it: "Feature drift". */
const kindLabel = (kind: AlertView['kind']) => {
  const title = ALERT_RULES[kind].title;
  return title.charAt(0).toUpperCase() + title.slice(1);
};

const isTraffic = (alert: AlertView) => isTrafficKind(alert.kind);

/**
 * What raised a traffic alert, from its latest window's measures (src/alerts/raise.ts trafficMeasures):
 * the latency p95 or the error rate, with the threshold it was judged by. Drift fields do not exist there.
 */
function trafficCause(alert: AlertView): string {
  const l = alert.latest;
  const threshold = num(l.threshold);
  if (alert.kind === 'latency')
    return `latency p95 ${fmt(num(l.latency_p95_ms), 1)} ms over ${num(l.latency_count) ?? 'n/a'} requests${threshold === null ? '' : ` (alerting at ${fmt(threshold, 1)} ms)`}`;
  const rate = num(l.error_rate);
  return `error rate ${rate === null ? 'n/a' : pct(rate)} of ${num(l.requests) ?? 'n/a'} requests${threshold === null ? '' : ` (alerting at ${pct(threshold)})`}`;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function fmt(v: number | null, digits = 3): string {
  if (v === null) return 'n/a';
  return Math.abs(v) > 0 && Math.abs(v) < 10 ** -digits ? v.toExponential(1) : v.toFixed(digits);
}

/** PSI and the (BH-adjusted when available) KS / χ² p-value of the alert's latest window. */
function measures(alert: AlertView): { psi: number | null; pvalue: number | null } {
  const l = alert.latest;
  return { psi: num(l.psi), pvalue: num(l.pvalue_adjusted) ?? num(l.ks_pvalue) ?? num(l.chi2_pvalue) };
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

interface QualityRate {
  /** How far the rate counts towards qualityRate: the missing rate counts above the baseline's own. */
  excess: number;
  text: string;
  field: { name: string; value: string };
}

/** The data-quality rates of a window that the policy looks at (those that apply to the column). */
function qualityRates(latest: Record<string, unknown>): QualityRate[] {
  const rates: QualityRate[] = [];
  const missing = num(latest.missing_rate);
  if (missing !== null) {
    const base = num(latest.baseline_missing_rate) ?? 0;
    rates.push({
      excess: missing - base,
      text: `missing rate ${pct(missing)} vs baseline ${pct(base)}`,
      field: { name: 'Missing', value: `${pct(missing)} (baseline ${pct(base)})` },
    });
  }
  const plain: [string, string, string][] = [
    ['type_mismatch_rate', 'type-mismatch rate', 'Wrong type'],
    ['unseen_rate', 'unseen-category rate', 'Unseen categories'],
    ['out_of_range_rate', 'out-of-range rate', 'Outside training range'],
  ];
  for (const [key, label, name] of plain) {
    const v = num(latest[key]);
    if (v !== null) rates.push({ excess: v, text: `${label} ${pct(v)}`, field: { name, value: pct(v) } });
  }
  return rates;
}

/**
 * What raised a data-quality alert: the rates of its latest window at or above the model's qualityRate
 * (as alerts/policy.ts qualitySignal judges them), highest first; when none is (the threshold was raised
 * since), the highest one.
 */
function qualityCause(config: Config, alert: AlertView): string {
  const rates = qualityRates(alert.latest).sort((a, b) => b.excess - a.excess);
  if (rates.length === 0) return 'data-quality rates n/a';
  const threshold = driftSettingsFor(config, alert.model).qualityRate;
  const fired = rates.filter((r) => r.excess >= threshold);
  return (fired.length > 0 ? fired : rates.slice(0, 1)).map((r) => r.text).join(', ');
}

/** The measures a message quotes: PSI for drift, the rate that fired for data quality. */
function headline(config: Config, alert: AlertView): string {
  if (isTraffic(alert)) return trafficCause(alert);
  return alert.kind === 'data_quality' ? qualityCause(config, alert) : `PSI ${fmt(measures(alert).psi)}`;
}

function modelName(model: string, version: string | null): string {
  return version ? `${model} ${version}` : model;
}

/** Stable across events, so Alertmanager's summary does not change with each update. */
function alertTitle(alert: AlertView): string {
  return `${kindLabel(alert.kind)} on ${modelName(alert.model, alert.model_version)} · ${alert.feature} (${alert.severity})`;
}

const VERB: Record<NotificationEvent['type'], string> = {
  'alert.opened': 'opened',
  'alert.escalated': 'escalated',
  'alert.recovered': 'recovered',
  'alert.closed': 'closed',
  'retrain.requested': 'requested',
  'retrain.updated': 'updated',
  'rollback.requested': 'requested',
};

/** One line for chat and logs. */
export function summaryOf(config: Config, event: NotificationEvent): string {
  const verb = VERB[event.type];
  const by = event.actor ? ` by ${event.actor}` : '';
  if (event.alert) {
    const a = event.alert;
    if (event.type.startsWith('alert.')) return `${alertTitle(a)} ${verb}, ${headline(config, a)}`;
    const what = event.type === 'rollback.requested' ? 'Rollback' : 'Retrain';
    return `${what} ${verb}${by} for ${modelName(a.model, a.model_version)} (alert #${a.id})${event.note ? `: ${event.note}` : ''}`;
  }
  if (event.retrainRequest) {
    const r = event.retrainRequest;
    return `Retrain request #${r.id} ${verb}${by} for ${modelName(r.model, r.model_version)}: ${r.status}`;
  }
  const what = event.type === 'rollback.requested' ? 'Rollback' : event.type;
  return `${what} ${verb}${by}${event.note ? `: ${event.note}` : ''}`;
}

export interface WebhookPayload {
  event: NotificationEvent['type'];
  at: string;
  actor: string | null;
  alert?: AlertView;
  retrain_request?: RetrainRequestView;
  note?: string;
  link?: string;
}

export function webhookPayload(config: Config, event: NotificationEvent): WebhookPayload {
  const link = eventLink(config, event);
  return {
    event: event.type,
    at: new Date(event.at).toISOString(),
    actor: event.actor,
    ...(event.alert ? { alert: event.alert } : {}),
    ...(event.retrainRequest ? { retrain_request: event.retrainRequest } : {}),
    ...(event.note !== undefined ? { note: event.note } : {}),
    ...(link ? { link } : {}),
  };
}

/** Slack requires &, < and > escaped in mrkdwn text; links are written <url|label>. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

type SlackField = { type: 'mrkdwn'; text: string };
export interface SlackPayload {
  text: string;
  blocks: (
    | { type: 'section'; text: { type: 'mrkdwn'; text: string }; fields?: SlackField[] }
    | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  )[];
}

export function slackPayload(config: Config, event: NotificationEvent): SlackPayload {
  const summary = summaryOf(config, event);
  const link = eventLink(config, event);
  const field = (name: string, value: string | number | null): SlackField => ({
    type: 'mrkdwn',
    text: `*${name}*\n${esc(value === null ? 'n/a' : String(value))}`,
  });
  let fields: SlackField[] = [];
  if (event.alert) {
    const a = event.alert;
    const m = measures(a);
    fields = [
      field('Model', a.model),
      field('Version', a.model_version ?? 'unversioned'),
      field('Feature', a.feature),
      field('Severity', a.severity),
      field('Status', a.status),
      ...(isTraffic(a)
        ? [
            field('Requests', num(a.latest.requests)),
            a.kind === 'latency'
              ? field('Latency p95 (ms)', fmt(num(a.latest.latency_p95_ms), 1))
              : field(
                  'Error rate',
                  num(a.latest.error_rate) === null ? null : pct(num(a.latest.error_rate) as number),
                ),
          ]
        : a.kind === 'data_quality'
          ? qualityRates(a.latest).map((r) => field(r.field.name, r.field.value))
          : [field('PSI', fmt(m.psi)), field('p-value', fmt(m.pvalue))]),
    ];
  } else if (event.retrainRequest) {
    const r = event.retrainRequest;
    fields = [
      field('Model', r.model),
      field('Version', r.model_version ?? 'unversioned'),
      field('Status', r.status),
      field('Requested by', r.requested_by),
      field('Alerts', r.alert_ids.map((id) => `#${id}`).join(', ') || 'none'),
      field('Reason', r.reason),
    ];
  }
  const title = link ? `*<${link}|${esc(summary)}>*` : `*${esc(summary)}*`;
  const context = [
    `driftwatch · ${event.type} · ${new Date(event.at).toISOString()}${event.actor ? ` · ${esc(event.actor)}` : ''}`,
    ...(link ? [`<${link}|Open in driftwatch>`] : []),
  ];
  return {
    text: link ? `${summary} ${link}` : summary,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: title }, ...(fields.length > 0 ? { fields } : {}) },
      { type: 'context', elements: context.map((text) => ({ type: 'mrkdwn' as const, text })) },
    ],
  };
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: { summary: string; description: string; link: string; model_version: string };
  startsAt: string;
  endsAt?: string;
  generatorURL: string;
}

/**
 * One Alertmanager alert. The label set identifies the alert in Alertmanager, so it must be the same on
 * every send (event and resend); a missing model version is left out rather than sent as an empty label.
 */
export function alertmanagerAlert(config: Config, alert: AlertView, endsAt?: string): AlertmanagerAlert {
  const link = alertLink(config, alert.id);
  const m = measures(alert);
  const peak = num(alert.peak.psi);
  // The label set is the alert's identity in Alertmanager: the model version moves as new versions attach
  // evidence, so it goes in the annotations; severity changes only by escalation, which resolves the old set.
  const labels: Record<string, string> = {
    alertname:
      alert.kind === 'latency'
        ? 'LatencyHigh'
        : alert.kind === 'error_rate'
          ? 'ErrorRateHigh'
          : 'DriftDetected',
    model: alert.model,
    feature: alert.feature,
    kind: alert.kind,
    severity: alert.severity,
  };
  const threshold = driftSettingsFor(config, alert.model).qualityRate;
  const measured = isTraffic(alert)
    ? `${trafficCause(alert)}, ${alert.evidence_count} window(s)`
    : alert.kind === 'data_quality'
      ? `${qualityCause(config, alert)} (alerting at ${pct(threshold)}), ${alert.evidence_count} window(s)`
      : `PSI ${fmt(m.psi)} (peak ${fmt(peak)}), p-value ${fmt(m.pvalue)}, ${alert.evidence_count} drifted window(s)`;
  const description =
    `${kindLabel(alert.kind)} alert #${alert.id} is ${alert.status}${alert.recovered ? ' (latest window back to normal)' : ''}: ` +
    `${measured} since ${alert.first_seen}, last ${alert.last_seen}.`;
  return {
    labels,
    annotations: { summary: alertTitle(alert), description, link, model_version: alert.model_version ?? '' },
    startsAt: alert.first_seen,
    ...(endsAt ? { endsAt } : {}),
    generatorURL: link,
  };
}

/**
 * Alertmanager alerts for an event. Closing or recovering resolves the alert (endsAt); escalating resolves
 * the warning-labelled alert and fires the critical one, since severity is part of the identity.
 */
export function alertmanagerEventAlerts(
  config: Config,
  type: string,
  alert: AlertView,
  at: string,
): AlertmanagerAlert[] {
  if (type === 'alert.closed') return [alertmanagerAlert(config, alert, alert.closed_at ?? at)];
  if (type === 'alert.recovered') return [alertmanagerAlert(config, alert, at)];
  if (type === 'alert.escalated') {
    return [
      alertmanagerAlert(config, { ...alert, severity: 'warning' }, at),
      alertmanagerAlert(config, alert),
    ];
  }
  return [alertmanagerAlert(config, alert)];
}

/** The body for a channel, or null when the channel does not take this event. */
export function renderPayload(config: Config, channel: ChannelConfig, event: NotificationEvent): unknown {
  switch (channel.type) {
    case 'webhook':
      return webhookPayload(config, event);
    case 'slack':
      return slackPayload(config, event);
    case 'alertmanager':
      if (!event.type.startsWith('alert.') || !event.alert) return null;
      return alertmanagerEventAlerts(config, event.type, event.alert, new Date(event.at).toISOString());
  }
}
