import { raw } from 'hono/html';

// Small pieces shared by the pages. Severity and status are shown as text with a symbol, never by
// colour alone.

const SEVERITY: Record<string, { cls: string; mark: string }> = {
  critical: { cls: 'critical', mark: '▲' },
  warning: { cls: 'warning', mark: '●' },
  ok: { cls: 'ok', mark: '✓' },
  none: { cls: 'ok', mark: '✓' },
};

export function SeverityBadge(props: { severity: string | null }) {
  const s = props.severity ?? 'none';
  const look = SEVERITY[s] ?? { cls: 'neutral', mark: '○' };
  return (
    <span class={`badge ${look.cls}`}>
      <span aria-hidden="true">{look.mark}</span>
      {s === 'none' ? 'ok' : s}
    </span>
  );
}

const STATUS: Record<string, string> = {
  open: 'info',
  acknowledged: 'warning',
  decided: 'ok',
  snoozed: 'neutral',
  closed: 'neutral',
};

export function StatusBadge(props: { status: string }) {
  return <span class={`badge ${STATUS[props.status] ?? 'neutral'}`}>{props.status}</span>;
}

/**
 * "3 h ago" with the exact time as the element's datetime and title. `past` clamps to now: a window's end
 * lies in the future while the window is still open, which reads as "now", not "in 40 min".
 */
export function Ago(props: { at: string | number | null; now: number; past?: boolean; bare?: boolean }) {
  if (props.at === null) return <span class="muted">—</span>;
  const raw = typeof props.at === 'number' ? props.at : Date.parse(props.at);
  const t = props.past ? Math.min(raw, props.now) : raw;
  if (props.past && raw > props.now) {
    const iso = new Date(raw).toISOString();
    return (
      <time datetime={iso} title={`window open until ${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`}>
        now
      </time>
    );
  }
  const iso = new Date(t).toISOString();
  return (
    <time datetime={iso} title={iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}>
      {props.bare ? ago(props.now - t).replace(/ ago$/, '') : ago(props.now - t)}
    </time>
  );
}

export function ago(ms: number): string {
  const future = ms < 0;
  const s = Math.abs(ms) / 1000;
  const text =
    s < 60
      ? `${Math.round(s)} s`
      : s < 3600
        ? `${Math.round(s / 60)} min`
        : s < 86_400 * 2
          ? `${Math.round(s / 3600)} h`
          : `${Math.round(s / 86_400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function utc(t: string | number | null): string {
  if (t === null) return '—';
  const iso = new Date(typeof t === 'number' ? t : Date.parse(t)).toISOString();
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

/** A number for a table cell: fixed digits, "—" for null. */
export function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
}

/** A p-value: exponent notation below 0.001, so tiny values do not all read 0.000. */
export function pval(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v !== 0 && v < 0.001 ? v.toExponential(2) : v.toFixed(3);
}

/** "2026-11-30 14:00 – 15:00 UTC", with the end's date only when it differs. */
export function span(from: string | number, to: string | number): string {
  const a = utc(from);
  const b = utc(to);
  return a.slice(0, 10) === b.slice(0, 10)
    ? `${a.slice(0, 16)} – ${b.slice(11)}`
    : `${a.slice(0, 16)} – ${b}`;
}

export function pct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(digits)} %`;
}

/** An SVG chart from src/charts/ (already escaped by the chart code) inside a captioned figure. */
export function Chart(props: { svg: string; caption?: string; id?: string }) {
  return (
    <figure class="chart" id={props.id}>
      {raw(props.svg)}
      {props.caption ? <figcaption>{props.caption}</figcaption> : null}
    </figure>
  );
}

export const uiPath = {
  alert: (id: number) => `/ui/alerts/${id}`,
  model: (model: string) => `/ui/models/${encodeURIComponent(model)}`,
  feature: (model: string, feature: string) =>
    `/ui/models/${encodeURIComponent(model)}/features/${encodeURIComponent(feature)}`,
};
