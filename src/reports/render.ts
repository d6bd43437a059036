import type { FeatureHistogram, HistogramBin } from '../drift/service.js';
import { ALERT_RULES } from '../rules/alerts.js';
import type { AlertLine, CriticalAlertLine, FeatureLine, ModelReport, ReportContent } from './content.js';

// A report as an email: a subject that states the situation, an HTML part with inline styles only (mail
// clients drop <style> blocks and never run scripts), and a plain-text part with the same facts.

/** A PNG shown inline in the HTML part (`<img src="cid:…">`), attached with that Content-ID. */
export interface InlineImage {
  cid: string;
  filename: string;
  content: Buffer;
  contentType: 'image/png';
  alt: string;
  /** The model whose section shows it; the top of the report when absent. */
  model?: string;
}

/**
 * The seam for charts (src/charts/, SVG → PNG): given what a report says, the inline images to show.
 * None until a chart renderer is plugged in (render options `charts`).
 */
export type ChartRenderer = (content: ReportContent) => Promise<InlineImage[]>;
export const noCharts: ChartRenderer = async () => [];

export interface RenderedReport {
  subject: string;
  html: string;
  text: string;
  images: InlineImage[];
}

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const num = (v: number | null, digits = 3) => (v === null ? '–' : v.toFixed(digits));
const signed = (v: number | null) => (v === null ? '–' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`);
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(v < 0.01 && v > 0 ? 2 : 1)}%`);
const ms = (v: number | null) => (v === null ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function dateIn(t: number, timeZone: string, time = false): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    ...(time ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' } : {}),
  } as Intl.DateTimeFormatOptions).format(new Date(t));
}

/** A histogram bin for people: "[1.5, 3.2)", "< 1.5", "≥ 9.8", or the category. */
export function binLabel(b: HistogramBin): string {
  const v = (x: number) => String(Number(x.toPrecision(3)));
  if (b.lower === undefined && b.upper === undefined) return b.label;
  if (b.lower === null || b.lower === undefined) return b.upper == null ? 'all' : `< ${v(b.upper)}`;
  if (b.upper === null || b.upper === undefined) return `≥ ${v(b.lower)}`;
  return `[${v(b.lower)}, ${v(b.upper)})`;
}

/** The bin whose share moved most between baseline and window, in words; null without a window. */
export function largestShift(h: FeatureHistogram): string | null {
  if (h.n === 0) return null;
  let best: HistogramBin | undefined;
  for (const b of h.bins)
    if (!best || Math.abs(b.window - b.baseline) > Math.abs(best.window - best.baseline)) best = b;
  if (!best) return null;
  return `${binLabel(best)}: ${pct(best.baseline)} in the baseline, ${pct(best.window)} now`;
}

function criticalSubject(a: CriticalAlertLine): string {
  const what = ALERT_RULES[a.kind].title;
  return `[driftwatch] critical alert #${a.id}: ${what} on ${a.feature} of ${a.model}`;
}

/** Open alerts over the report's models, and how many of them are critical. */
function openAlerts(c: ReportContent): { open: number; critical: number } {
  return {
    open: c.models.reduce((n, m) => n + m.alerts.length, 0),
    critical: c.models.reduce((n, m) => n + m.alertsBySeverity.critical, 0),
  };
}

/** Every model judged calm and no alert open: the only report that says "all quiet". */
function isQuiet(c: ReportContent): boolean {
  return !c.critical && c.models.length > 0 && c.models.every((m) => m.status === 'ok');
}

export function reportSubject(c: ReportContent): string {
  if (c.critical) return criticalSubject(c.critical);
  const what = `${c.schedule} report, ${dateIn(c.slot, c.timezone)}`;
  // Models the schedule names that the store does not know are named in the report, not counted.
  const n = c.models.length;
  if (n === 0) return `[driftwatch] no models to report — ${what}`;
  if (c.drifting > 0) return `[driftwatch] ${c.drifting} of ${plural(n, 'model')} drifting — ${what}`;
  const { open, critical } = openAlerts(c);
  // Open alerts of other kinds (latency, error rate, data quality, recovered drift) are no quiet either.
  if (open > 0)
    return `[driftwatch] no drift in ${plural(n, 'model')}, ${plural(open, 'open alert')}${critical > 0 ? ` (${critical} critical)` : ''} — ${what}`;
  // A model without a verdict (too few records, no drift result) is not known to be calm.
  const unjudged = c.models.filter((m) => m.status !== 'ok').length;
  if (unjudged === n) return `[driftwatch] no drift verdict for ${plural(n, 'model')} — ${what}`;
  if (unjudged > 0)
    return `[driftwatch] no drift in ${n - unjudged} of ${plural(n, 'model')}, ${unjudged} without a verdict — ${what}`;
  return `[driftwatch] all quiet: no drift in ${plural(n, 'model')} — ${what}`;
}

function periodText(c: ReportContent): string {
  return `${dateIn(c.period.from, c.timezone, true)} – ${dateIn(c.period.to, c.timezone, true)}`;
}

/** A drift result's window in the report's zone, as the period is written. */
function windowText(w: { from: string; to: string }, timeZone: string): string {
  return `${dateIn(Date.parse(w.from), timeZone, true)} – ${dateIn(Date.parse(w.to), timeZone, true)}`;
}

/** Schedule models the store has neither records nor a baseline of. */
function unknownText(model: string): string {
  return `${model}: no such model (no records or baseline)`;
}

/** A feature's PSI change since the previous period, or why there is none. */
function changeText(f: FeatureLine): string {
  if (f.change !== null) return `${signed(f.change)} since the previous period`;
  return f.previousPsi === null ? 'no previous period to compare' : 'no PSI to compare';
}

/** Why a drift result gives no verdict: too few records, or too few values in every feature. */
function noVerdictText(d: NonNullable<ModelReport['drift']>): string {
  return d.n < d.minSamples
    ? `too few records (${d.n} of ${d.minSamples})`
    : `no verdict (no feature has ${d.minSamples} values)`;
}

/** The drift result's window and size, or why it gives no verdict. */
function driftWindowText(d: NonNullable<ModelReport['drift']>, timeZone: string): string {
  const size = d.drifted === null ? noVerdictText(d) : plural(d.n, 'record');
  return `version ${d.modelVersion ?? '(none)'}, ${d.kind === 'range' ? '' : `${d.kind} `}window ${windowText(d.window, timeZone)}, ${size}`;
}

/** The status pill of a model's section (HTML) and the mark after its name (text). */
function statusLabel(m: ModelReport): { label: string; style: string; mark: string } {
  switch (m.status) {
    case 'drifting':
      return { label: 'drifting', style: S.badgeDrift, mark: ' — DRIFTING' };
    case 'alerts':
      return m.alertsBySeverity.critical > 0
        ? { label: 'critical alerts open', style: S.badgeDrift, mark: ' — CRITICAL ALERTS OPEN' }
        : { label: 'alerts open', style: S.badgeWarn, mark: ' — ALERTS OPEN' };
    case 'too_few_records':
      return { label: 'too few records', style: S.badgeNone, mark: '' };
    case 'no_verdict':
      return { label: 'no verdict', style: S.badgeNone, mark: '' };
    case 'no_result':
      return { label: 'no drift result', style: S.badgeNone, mark: '' };
    case 'ok':
      return { label: 'ok', style: S.badgeOk, mark: '' };
  }
}

function alertCounts(m: ModelReport): string {
  const { critical, warning } = m.alertsBySeverity;
  if (critical + warning === 0) return 'no open alerts';
  return [critical ? `${critical} critical` : '', warning ? `${warning} warning` : '']
    .filter(Boolean)
    .join(', ');
}

function trafficText(m: ModelReport): string {
  const t = m.traffic;
  if (t.requests === 0) return 'no requests';
  return `${plural(t.requests, 'request')}, error rate ${pct(t.error_rate)}, latency p50 ${ms(t.latency.p50)} / p95 ${ms(t.latency.p95)}`;
}

function featureText(f: FeatureLine): string {
  const flag = f.drifted ? ` [${f.severity ?? 'drift'}]` : '';
  return `${f.feature}: PSI ${num(f.psi)} (${changeText(f)})${flag}`;
}

/** An open alert's status, and that its signal recovered when it did. */
const alertStatus = (a: AlertLine) => (a.recovered ? `${a.status}, recovered` : a.status);

function alertText(a: AlertLine): string {
  return `#${a.id} ${a.severity} ${a.kind} on ${a.feature} (${alertStatus(a)}): ${a.link}`;
}

function criticalText(a: CriticalAlertLine, timeZone: string): string[] {
  return [
    `Alert #${a.id} on ${a.model}: ${a.kind} on ${a.feature}, ${a.severity} (${a.status})${a.escalated ? ', escalated from warning' : ''}`,
    `Seen ${dateIn(a.firstSeen, timeZone, true)} – ${dateIn(a.lastSeen, timeZone, true)}${a.peakPsi === null ? '' : `, peak PSI ${num(a.peakPsi)}`}`,
    `Review it: ${a.link}`,
    '',
  ];
}

function shiftLines(m: ModelReport): string[] {
  return m.charts.histograms.flatMap((h) => {
    const shift = largestShift(h);
    return shift ? [`  ${h.feature}, largest shift: ${shift}`] : [];
  });
}

export function renderText(c: ReportContent): string {
  const lines = [reportSubject(c).replace(/^\[driftwatch\] /, ''), `Period: ${periodText(c)}`, ''];
  if (c.critical) lines.push(...criticalText(c.critical, c.timezone));
  if (c.unknownModels.length > 0) lines.push(...c.unknownModels.map(unknownText), '');
  if (isQuiet(c)) lines.push('All quiet: no model is drifting and no alert is open.', '');
  for (const m of c.models) {
    lines.push(`== ${m.model}${statusLabel(m).mark}`);
    if (m.activeVersion !== null) lines.push(`Active version: ${m.activeVersion}`);
    lines.push(`Traffic: ${trafficText(m)}`);
    if (m.drift === null) lines.push('Drift: no drift result for this period');
    else {
      lines.push(`Drift (${driftWindowText(m.drift, c.timezone)}):`);
      for (const f of m.features) lines.push(`  - ${featureText(f)}`);
      const shifts = shiftLines(m);
      if (shifts.length > 0) lines.push('Baseline vs current:', ...shifts);
    }
    lines.push(`Open alerts: ${alertCounts(m)}`);
    for (const a of m.alerts) lines.push(`  - ${alertText(a)}`);
    if (m.retrain.length > 0) {
      lines.push(`Pending retrain requests: ${m.retrain.length}`);
      for (const r of m.retrain) lines.push(`  - #${r.id} ${r.status}: ${r.reason} ${r.link}`);
    }
    lines.push('');
  }
  lines.push('— driftwatch');
  return `${lines.join('\n')}\n`;
}

const S = {
  body: 'margin:0;padding:16px;background:#f6f7f9;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328;font-size:14px;line-height:1.45',
  card: 'background:#ffffff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:0 0 12px 0',
  h1: 'font-size:18px;margin:0 0 4px 0',
  h2: 'font-size:16px;margin:0 0 6px 0',
  muted: 'color:#57606a;margin:0 0 8px 0',
  table: 'border-collapse:collapse;width:100%;margin:6px 0',
  th: 'text-align:left;border-bottom:1px solid #d0d7de;padding:4px 6px;font-weight:600',
  td: 'border-bottom:1px solid #eaeef2;padding:4px 6px',
  badgeDrift: 'background:#cf222e;color:#ffffff;border-radius:10px;padding:1px 8px;font-size:12px',
  badgeOk: 'background:#1a7f37;color:#ffffff;border-radius:10px;padding:1px 8px;font-size:12px',
  badgeWarn: 'background:#9a6700;color:#ffffff;border-radius:10px;padding:1px 8px;font-size:12px',
  badgeNone: 'background:#6e7781;color:#ffffff;border-radius:10px;padding:1px 8px;font-size:12px',
  critical: 'color:#cf222e;font-weight:600',
  warning: 'color:#9a6700;font-weight:600',
  link: 'color:#0969da',
};

function imagesHtml(images: InlineImage[]): string {
  return images
    .map(
      (i) =>
        `<img src="cid:${esc(i.cid)}" alt="${esc(i.alt)}" style="max-width:100%;height:auto;display:block;margin:6px 0">`,
    )
    .join('');
}

function modelHtml(m: ModelReport, images: InlineImage[], timeZone: string): string {
  const status = statusLabel(m);
  const parts = [
    `<div style="${S.card}">`,
    `<h2 style="${S.h2}">${esc(m.model)} <span style="${status.style}">${esc(status.label)}</span></h2>`,
    m.activeVersion === null ? '' : `<p style="${S.muted}">Active version: ${esc(m.activeVersion)}</p>`,
    `<p style="margin:0 0 6px 0">Traffic: ${esc(trafficText(m))}</p>`,
  ];
  if (m.drift === null) parts.push(`<p style="${S.muted}">Drift: no drift result for this period</p>`);
  else {
    parts.push(
      `<p style="${S.muted}">Drift of ${esc(driftWindowText(m.drift, timeZone))}</p>`,
      `<table style="${S.table}"><tr><th style="${S.th}">Feature</th><th style="${S.th}">PSI</th><th style="${S.th}">Change since previous period</th><th style="${S.th}">Verdict</th></tr>`,
      ...m.features.map(
        (f) =>
          `<tr><td style="${S.td}">${esc(f.feature)}</td><td style="${S.td}">${num(f.psi)}</td><td style="${S.td}">${f.change === null ? esc(changeText(f)) : signed(f.change)}</td><td style="${S.td}${f.drifted ? `;${f.severity === 'critical' ? S.critical : S.warning}` : ''}">${f.drifted ? esc(f.severity ?? 'drift') : f.drifted === false ? 'ok' : '–'}</td></tr>`,
      ),
      '</table>',
    );
  }
  const shifts = m.charts.histograms.flatMap((h) => {
    const shift = largestShift(h);
    return shift ? [`<li>${esc(h.feature)}: ${esc(shift)}</li>`] : [];
  });
  if (shifts.length > 0)
    parts.push(
      `<p style="margin:6px 0 2px 0">Largest shift, baseline vs current:</p><ul style="margin:0 0 6px 18px;padding:0">${shifts.join('')}</ul>`,
    );
  parts.push(imagesHtml(images.filter((i) => i.model === m.model)));
  parts.push(`<p style="margin:6px 0 2px 0">Open alerts: ${esc(alertCounts(m))}</p>`);
  if (m.alerts.length > 0)
    parts.push(
      `<ul style="margin:0 0 6px 18px;padding:0">${m.alerts
        .map(
          (a) =>
            `<li><a href="${esc(a.link)}" style="${S.link}">#${a.id}</a> <span style="${a.severity === 'critical' ? S.critical : S.warning}">${esc(a.severity)}</span> ${esc(a.kind)} on ${esc(a.feature)} (${esc(alertStatus(a))})</li>`,
        )
        .join('')}</ul>`,
    );
  if (m.retrain.length > 0)
    parts.push(
      `<p style="margin:6px 0 2px 0">Pending retrain requests: ${m.retrain.length}</p><ul style="margin:0 0 6px 18px;padding:0">${m.retrain
        .map(
          (r) =>
            `<li><a href="${esc(r.link)}" style="${S.link}">#${r.id}</a> ${esc(r.status)}: ${esc(r.reason)}</li>`,
        )
        .join('')}</ul>`,
    );
  parts.push('</div>');
  return parts.join('');
}

export function renderHtml(c: ReportContent, images: InlineImage[] = []): string {
  const subject = reportSubject(c);
  const quiet = isQuiet(c);
  const a = c.critical;
  return [
    '<!DOCTYPE html><html><head><meta charset="utf-8">',
    `<title>${esc(subject)}</title></head>`,
    `<body style="${S.body}">`,
    `<div style="${S.card}"><h1 style="${S.h1}">${esc(subject.replace(/^\[driftwatch\] /, ''))}</h1>`,
    `<p style="${S.muted}">Period: ${esc(periodText(c))}</p>`,
    quiet ? '<p style="margin:0">All quiet: no model is drifting and no alert is open.</p>' : '',
    a
      ? `<p style="margin:0 0 4px 0"><span style="${S.critical}">${esc(a.severity)}</span> ${esc(a.kind)} on <b>${esc(a.feature)}</b> of ${esc(a.model)} (${esc(a.status)})${a.escalated ? ', escalated from warning' : ''}</p>` +
        `<p style="${S.muted}">Seen ${esc(dateIn(a.firstSeen, c.timezone, true))} – ${esc(dateIn(a.lastSeen, c.timezone, true))}${a.peakPsi === null ? '' : `, peak PSI ${num(a.peakPsi)}`}</p>` +
        `<p style="margin:0"><a href="${esc(a.link)}" style="${S.link}">Review alert #${a.id}</a></p>`
      : '',
    c.unknownModels.length > 0
      ? `<ul style="margin:6px 0 0 18px;padding:0">${c.unknownModels.map((m) => `<li style="${S.warning}">${esc(unknownText(m))}</li>`).join('')}</ul>`
      : '',
    imagesHtml(images.filter((i) => i.model === undefined)),
    '</div>',
    ...c.models.map((m) => modelHtml(m, images, c.timezone)),
    `<p style="${S.muted}">— driftwatch</p>`,
    '</body></html>',
  ].join('');
}

/**
 * The HTML with each `cid:` image replaced by a data: URI of its PNG, for a file opened from disk or a
 * browser (a cid only resolves inside the mail).
 */
export function inlineImages(html: string, images: InlineImage[]): string {
  let out = html;
  for (const i of images)
    out = out
      .split(`src="cid:${esc(i.cid)}"`)
      .join(`src="data:${i.contentType};base64,${i.content.toString('base64')}"`);
  return out;
}

export async function renderReport(
  c: ReportContent,
  charts: ChartRenderer = noCharts,
): Promise<RenderedReport> {
  const images = await charts(c);
  return { subject: reportSubject(c), html: renderHtml(c, images), text: renderText(c), images };
}
