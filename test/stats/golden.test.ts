import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg,
  chiSquareContingency,
  histogram,
  jensenShannon,
  type KsMethod,
  ksTwoSample,
  kstwoSf,
  psi,
  quantileEdges,
  wasserstein,
  wassersteinNormed,
} from '../../src/stats/index.js';
import { expectAbs, expectPvalue, loadJson } from './helpers.js';

type Packed = number[] | { values: number[]; counts: number[] };
interface KsCase {
  a: Packed;
  b: Packed;
  method: KsMethod;
  statistic: number;
  pvalue: number | null;
  fellBack?: boolean;
}
interface KstwoCase {
  d: number;
  n: number;
  sf: number;
}
interface PsiCase {
  ref: number[];
  cur: number[];
  bins: number;
  edges: number[];
  ref_counts: number[];
  cur_counts: number[];
  psi: number;
  js: number;
}
interface Chi2Case {
  ref_counts: number[];
  cur_counts: number[];
  statistic: number;
  pvalue: number;
  dof: number;
}
interface WassersteinCase {
  a: number[];
  b: number[];
  distance: number;
  normed: number;
}
interface Golden {
  ks: KsCase[];
  kstwo: KstwoCase[];
  psi: PsiCase[];
  chi2: Chi2Case[];
  wasserstein: WassersteinCase[];
}
interface Extra {
  samples: Packed[];
  ks: Array<Omit<KsCase, 'a' | 'b'> & { a: number; b: number }>;
  kstwo: KstwoCase[];
  chi2: Chi2Case[];
  wasserstein: WassersteinCase[];
  bh: { p: number[]; adjusted: number[] };
}

const golden = loadJson<Golden>('../fixtures/stats.json');
// Additional scipy 1.10.1 references (see gen-extra-golden.py): every kstwo branch, ties, forced exact.
const extra = loadJson<Extra>('./extra-golden.json');

/** Expands a sample stored as distinct values with multiplicities. */
function unpack(x: Packed): number[] {
  if (Array.isArray(x)) return x;
  return x.values.flatMap((v, i) => Array<number>(x.counts[i] as number).fill(v));
}

const ksLabel = (c: KsCase, i: number) =>
  `#${i} n1=${unpack(c.a).length} n2=${unpack(c.b).length} method=${c.method}`;

function checkKs(c: KsCase): void {
  const r = ksTwoSample(unpack(c.a), unpack(c.b), { method: c.method });
  expectAbs(r.statistic, c.statistic, 1e-12);
  if (c.pvalue !== null) expectPvalue(r.pvalue, c.pvalue);
  if (c.fellBack) expect(r.method).toBe('asymp');
}

describe('golden: ks_2samp', () => {
  it.each(golden.ks.map((c, i) => [ksLabel(c, i), c] as const))('%s', (_label, c) => checkKs(c));
});

describe('golden: kstwo.sf', () => {
  it.each(golden.kstwo.map((c) => [c.d, c.n, c] as const))('d=%s n=%s', (_d, _n, c) => {
    expectPvalue(kstwoSf(c.d, c.n), c.sf);
  });
});

describe('golden: PSI and Jensen–Shannon on decile bins', () => {
  it.each(golden.psi.map((c, i) => [i, c] as const))('case %s', (_i, c) => {
    const edges = quantileEdges(c.ref, c.bins);
    expect(Array.from(edges)).toEqual(c.edges);
    const rc = histogram(edges, c.ref);
    const cc = histogram(edges, c.cur);
    expect(Array.from(rc)).toEqual(c.ref_counts);
    expect(Array.from(cc)).toEqual(c.cur_counts);
    expectAbs(psi(rc, cc), c.psi, 1e-9);
    expectAbs(jensenShannon(rc, cc), c.js, 1e-9);
    // Same numbers straight from the stored counts.
    expectAbs(psi(c.ref_counts, c.cur_counts), c.psi, 1e-9);
    expectAbs(jensenShannon(c.ref_counts, c.cur_counts), c.js, 1e-9);
  });
});

describe('golden: chi2_contingency', () => {
  it.each([...golden.chi2, ...extra.chi2].map((c, i) => [i, c] as const))('case %s', (_i, c) => {
    const r = chiSquareContingency(c.ref_counts, c.cur_counts);
    expect(r.dof).toBe(c.dof);
    expectAbs(r.statistic, c.statistic, 1e-9);
    expectAbs(r.pvalue, c.pvalue, 1e-9);
  });
});

describe('golden: wasserstein_distance', () => {
  it.each([...golden.wasserstein, ...extra.wasserstein].map((c, i) => [i, c] as const))(
    'case %s',
    (_i, c) => {
      expectAbs(wasserstein(c.a, c.b), c.distance, 1e-9);
      expectAbs(wassersteinNormed(c.a, c.b), c.normed, 1e-9);
      expectAbs(wasserstein(Float64Array.from(c.a), Float64Array.from(c.b)), c.distance, 1e-9);
    },
  );
});

describe('extra references (scipy 1.10.1)', () => {
  const cases: KsCase[] = extra.ks.map((c) => ({
    ...c,
    a: extra.samples[c.a] as Packed,
    b: extra.samples[c.b] as Packed,
  }));
  it.each(cases.map((c, i) => [ksLabel(c, i), c] as const))('ks_2samp %s', (_label, c) => checkKs(c));

  it(`kstwo.sf on ${extra.kstwo.length} points covering every method branch`, async () => {
    for (const c of extra.kstwo) {
      const v = kstwoSf(c.d, c.n);
      const ok = c.sf < 1e-6 ? Math.abs(v - c.sf) <= 1e-12 : Math.abs(v - c.sf) / c.sf <= 1e-6;
      if (!ok) expect.fail(`kstwoSf(${c.d}, ${c.n}) = ${v}, scipy ${c.sf}`);
    }
  });

  it('Benjamini–Hochberg matches the step-up definition', async () => {
    const adj = benjaminiHochberg(extra.bh.p);
    for (const [i, v] of extra.bh.adjusted.entries()) expectAbs(adj[i] as number, v, 1e-15);
  });
});
