import type { AlertDetail } from '../../../alerts/review.js';
import { driftSettingsFor } from '../../../config/index.js';
import type { AppDeps } from '../../../context.js';
import { isTrafficKind, ladderText } from '../../../rules/alerts.js';
import { type ThresholdSource, trafficThresholds } from '../../../thresholds/service.js';
import { num, pct } from '../../components.js';
import { cusumOf, whyJoint, whySequential } from './joint.js';
import { qualityOf } from './measures.js';

// "Why it fired": the latest window's measures beside the rules they crossed, in the words of the rules
// table (ladderText), so the explanation cannot drift from what raises alerts.

export interface Why {
  rows: { measure: string; value: string; rule: string; met: boolean | null }[];
  thresholds: string;
}

/**
 * The latest window's measures against the rules they were judged by, and where the thresholds come from;
 * `t` is the feature's thresholds in force (drift kinds; the others read the configuration).
 */
export function whyItFired(deps: Pick<AppDeps, 'config'>, a: AlertDetail, t: ThresholdSource): Why {
  const m = a.latest as Record<string, number | null | undefined>;
  const settings = driftSettingsFor(deps.config, a.model);
  if (isTrafficKind(a.kind)) {
    const traffic = trafficThresholds(deps.config, a.model);
    const isLatency = a.kind === 'latency';
    const format = isLatency ? (v: number) => `${v} ms` : (v: number) => pct(v);
    const limit = isLatency ? traffic.latency_p95_ms : traffic.error_rate;
    const value = isLatency ? (m.latency_p95_ms ?? null) : (m.error_rate ?? null);
    return {
      rows: [
        {
          measure: isLatency ? 'p95 latency' : 'error rate',
          value: isLatency ? `${num(value, 1)} ms` : pct(value),
          rule: limit === null ? 'no threshold configured now' : ladderText(a.kind, limit, format),
          met: limit === null || value === null ? null : value >= limit,
        },
        {
          measure: isLatency ? 'requests with a latency' : 'requests',
          value: String((isLatency ? m.latency_count : m.requests) ?? '—'),
          rule: `judged from ${traffic.min_samples} on`,
          met: null,
        },
      ],
      thresholds: `Thresholds come from the configuration (${isLatency ? 'latencyP95Ms' : 'errorRate'} of model ${a.model}, or the drift defaults).`,
    };
  }
  if (a.kind === 'multivariate_drift') return whyJoint(a, settings.alpha, settings.minSamples);
  const feature = a.kind === 'prediction_drift' ? 'prediction' : a.feature;
  const source =
    t.source === 'override'
      ? `an override set by ${t.setBy ?? 'someone'}${t.reason ? ` (“${t.reason}”)` : ''}`
      : t.source === 'config'
        ? `the configuration (models.${a.model}.features.${feature})`
        : `the model’s defaults (drift settings${settings.calibrated ? ', calibrated to the window size' : ''})`;
  if (a.kind === 'data_quality') {
    const rate = qualityOf(m);
    return {
      rows: [
        {
          measure: 'missing beyond training',
          value: pct((m.missing_rate ?? 0) - (m.baseline_missing_rate ?? 0)),
          rule: `training had ${pct(m.baseline_missing_rate ?? 0)} missing`,
          met: null,
        },
        { measure: 'wrong type', value: pct(m.type_mismatch_rate ?? null), rule: '', met: null },
        { measure: 'categories never seen', value: pct(m.unseen_rate ?? null), rule: '', met: null },
        {
          measure: 'outside the training range',
          value: pct(m.out_of_range_rate ?? null),
          rule: '',
          met: null,
        },
        ...(m.unknown_feature_rate !== undefined
          ? [
              {
                measure: 'records with this feature not in the baseline',
                value: pct(m.unknown_feature_rate ?? null),
                rule: '',
                met: null,
              },
            ]
          : []),
        {
          measure: 'worst of these',
          value: pct(rate),
          rule: ladderText('data_quality', settings.qualityRate, (v) => pct(v)),
          met: rate === null ? null : rate >= settings.qualityRate,
        },
      ],
      thresholds: `The rate comes from the configuration (qualityRate of model ${a.model}).`,
    };
  }
  const psiWarning = m.psi_warning ?? t.psiWarning;
  const p = m.pvalue_adjusted ?? null;
  const cusum = cusumOf(a);
  return {
    rows: [
      ...(cusum ? whySequential(cusum) : []),
      {
        measure: 'PSI',
        value: num(m.psi ?? null),
        rule: `drift at ≥ ${num(psiWarning)}${psiWarning !== t.psiWarning ? ` (calibrated; configured ${num(t.psiWarning)})` : ''}, critical at ≥ ${num(Math.max(t.psiCritical, psiWarning))}`,
        met: m.psi === null || m.psi === undefined ? null : m.psi >= psiWarning,
      },
      {
        measure:
          m.ks_pvalue !== null && m.ks_pvalue !== undefined
            ? 'KS p-value (adjusted)'
            : 'χ² p-value (adjusted)',
        value: p === null ? '—' : p.toExponential(2),
        rule: `significant below α = ${t.alpha} (Benjamini–Hochberg across the window’s features)`,
        met: p === null ? null : p < t.alpha,
      },
      ...(m.ks_statistic !== null && m.ks_statistic !== undefined
        ? [{ measure: 'KS distance D', value: num(m.ks_statistic), rule: '', met: null }]
        : []),
      ...(m.chi2_statistic !== null && m.chi2_statistic !== undefined
        ? [{ measure: 'χ² statistic', value: num(m.chi2_statistic, 1), rule: '', met: null }]
        : []),
      ...(m.js !== null && m.js !== undefined
        ? [{ measure: 'Jensen–Shannon distance', value: num(m.js), rule: '', met: null }]
        : []),
      ...(m.wasserstein_normed !== null && m.wasserstein_normed !== undefined
        ? [{ measure: 'Wasserstein (÷ baseline std)', value: num(m.wasserstein_normed), rule: '', met: null }]
        : []),
      {
        measure: 'values in the window',
        value: String(m.n ?? '—'),
        rule: `judged from ${settings.minSamples} on`,
        met: null,
      },
    ],
    thresholds: `An alert fires when PSI reaches the threshold and the change is significant. These thresholds come from ${source}.`,
  };
}

export function WhyTable(props: { why: Why }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">Measures of the latest window against their thresholds</caption>
        <thead>
          <tr>
            <th scope="col">Measure</th>
            <th scope="col" class="num">
              Latest window
            </th>
            <th scope="col">Rule</th>
            <th scope="col">Met</th>
          </tr>
        </thead>
        <tbody>
          {props.why.rows.map((r) => (
            <tr>
              <th scope="row">{r.measure}</th>
              <td class="num">{r.value}</td>
              <td>{r.rule}</td>
              <td>{r.met === null ? '' : r.met ? '✔ yes' : '✘ no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
