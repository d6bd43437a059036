import type { AlertDetail } from '../../../alerts/review.js';
import { num } from '../../components.js';
import type { Why } from './why.js';

// The alert page's parts for joint (multivariate_drift) and sequential (CUSUM) alerts, from the numbers
// their evidence carries.

type Measures = Record<string, unknown>;
const n = (v: unknown) => (typeof v === 'number' ? v : null);

/** "Why it fired" for a multivariate_drift alert: the pair's two correlations, or the error and its null. */
export function whyJoint(a: AlertDetail, alpha: number, minSamples: number): Why {
  const m = a.latest as Measures;
  const records = {
    measure: 'records in the window',
    value: String(m.n ?? '—'),
    rule: `judged from ${minSamples} on`,
    met: null,
  };
  if (typeof m.reconstruction_error === 'number') {
    const err = m.reconstruction_error;
    const threshold = n(m.reconstruction_threshold);
    return {
      rows: [
        {
          measure: 'reconstruction error',
          value: num(err, 4),
          rule: `fires above ${num(threshold, 4)} (one window in ${Math.round(1 / (n(m.reconstruction_alpha) ?? 1e-4))} by chance), critical at twice it`,
          met: threshold === null ? null : err > threshold,
        },
        {
          measure: 'expected under the baseline',
          value: `${num(n(m.reconstruction_expected), 4)} ± ${num(n(m.reconstruction_sd), 4)}`,
          rule: '',
          met: null,
        },
        {
          measure: 'principal components kept',
          value: `${m.components ?? '—'} (${num(n(m.explained), 2)} of the variance)`,
          rule: '',
          met: null,
        },
        records,
      ],
      thresholds: `The error is the mean squared distance of the window's standardised rows (${(m.features as string[] | undefined)?.join(', ') ?? ''}) from the baseline's principal subspace.`,
    };
  }
  const p = n(m.pvalue_adjusted);
  const delta = n(m.correlation_delta);
  return {
    rows: [
      {
        measure: 'correlation in the baseline',
        value: num(n(m.correlation_baseline), 3),
        rule: '',
        met: null,
      },
      { measure: 'correlation in the window', value: num(n(m.correlation_window), 3), rule: '', met: null },
      {
        measure: 'change',
        value: num(delta, 3),
        rule: 'at least 0.2 either way, critical at 0.4',
        met: delta === null ? null : Math.abs(delta) >= 0.2,
      },
      {
        measure: 'Fisher p-value (adjusted)',
        value: p === null ? '—' : p.toExponential(2),
        rule: `significant below α = ${alpha} (Benjamini–Hochberg with the window's feature tests and ${m.pairs_tested ?? '—'} pairs)`,
        met: p === null ? null : p < alpha,
      },
      records,
    ],
    thresholds: `A pair fires when its correlation changed significantly and by enough; α comes from the drift settings of model ${a.model}.`,
  };
}

interface CusumEvidence {
  arl0: number;
  k: number;
  h: number;
  path: { bucket: string; psi: number; x: number; upper: number; alarm: boolean }[];
}

/** The CUSUM of a sequentially raised drift alert, when its latest evidence has one. */
export function cusumOf(a: AlertDetail): CusumEvidence | null {
  const m = a.latest as Measures;
  return m.raised_by === 'sequential' && m.cusum ? (m.cusum as CusumEvidence) : null;
}

/** Rows added to "why it fired" for a sequential alert. */
export function whySequential(c: CusumEvidence): Why['rows'] {
  const last = c.path[c.path.length - 1];
  return [
    {
      measure: 'CUSUM C⁺ of the PSI score',
      value: num(last?.upper ?? null, 2),
      rule: `raised sequentially: alarm above h = ${num(c.h, 3)} (k ${c.k}; one false alarm per ${c.arl0} null buckets on average)`,
      met: last ? last.alarm : null,
    },
  ];
}

/** The CUSUM path table on the alert page. */
export function CusumPath(props: { c: CusumEvidence }) {
  return (
    <div class="table-wrap" id="cusum-path">
      <table>
        <caption>CUSUM path over closed buckets (raised sequentially; h = {num(props.c.h, 3)})</caption>
        <thead>
          <tr>
            <th scope="col">Bucket</th>
            <th scope="col" class="num">
              PSI
            </th>
            <th scope="col" class="num">
              Score
            </th>
            <th scope="col" class="num">
              C⁺
            </th>
            <th scope="col">Alarm</th>
          </tr>
        </thead>
        <tbody>
          {props.c.path
            .slice()
            .reverse()
            .map((p) => (
              <tr>
                <td>{p.bucket}</td>
                <td class="num">{num(p.psi, 4)}</td>
                <td class="num">{num(p.x, 2)}</td>
                <td class="num">{num(p.upper, 2)}</td>
                <td>{p.alarm ? 'alarm' : ''}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}
