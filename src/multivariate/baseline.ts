import type { ColumnProfile } from '../profiles/profile.js';
import { MISSING_TOKENS } from '../profiles/profile.js';
import {
  BASELINE_CHUNKS,
  COMOMENTS_MAX_DIM,
  type CoMoments,
  emptyCoMoments,
  mergeCoMoments,
  triIndex,
} from '../stats/comoments.js';

/** What production rows are standardised with, and which features they are, in order. */
export interface JointStandardisation {
  features: string[];
  mean: number[];
  sd: number[];
  /** Raw-unit bounds values are clipped into first (±Infinity: none); absent for a baseline stored before them. */
  lower?: number[];
  upper?: number[];
}

/** Rows the clipping bounds are set from before any row is accumulated (their values are held until then). */
export const PILOT_ROWS = 2048;

/**
 * Clipping bounds of one column from its pilot values: [q₁ − w, q₉₉ + w] with w = q₉₉ − q₁ (the range when
 * that is 0). Normal data is never clipped (±7 sd); a heavy tail is cut where its few rows would dominate a
 * window's second moments, so the nulls measured on chunks hold. None with fewer than 20 values.
 */
export function clipBounds(values: readonly number[]): [number, number] {
  if (values.length < 20) return [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  const v = [...values].sort((a, b) => a - b);
  const q = (p: number) => v[Math.floor(p * (v.length - 1))] as number;
  const lo = q(0.01);
  const hi = q(0.99);
  const w = hi - lo || (v[v.length - 1] as number) - (v[0] as number);
  if (!(w > 0)) return [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  return [lo - w, hi + w];
}

export interface BaselineCoMoments extends JointStandardisation {
  /** Even rows (fit the principal components) and odd rows (calibrate the null), as baselineHalves splits. */
  fit: CoMoments;
  calibration: CoMoments;
  /**
   * The rows in BASELINE_CHUNKS round-robin chunks, as baselineChunks splits them (the even ones make up
   * `fit`, the odd ones `calibration`): the nulls' measured spread. Empty for a baseline stored before them.
   */
  chunks: CoMoments[];
}

/** Raw sums of one chunk over every pair (i ≤ j) of tracked columns, about a per-column shift. */
class RawSums {
  rows = 0;
  readonly both: Float64Array;
  readonly si: Float64Array;
  readonly sj: Float64Array;
  readonly sij: Float64Array;
  constructor(t: number) {
    this.both = new Float64Array(t);
    this.si = new Float64Array(t);
    this.sj = new Float64Array(t);
    this.sij = new Float64Array(t);
  }
}

/**
 * The baseline's co-moments in the same pass that profiles it. The mean and sd that standardise are only
 * known at the end, so each chunk of rows keeps, per column pair, the rows where both are present, their
 * sums and the sum of products, about the column's first value (so large offsets do not cancel); `build` turns them
 * into the sums of z = (x − μ)/σ with missing values as z = 0, exactly as addRow would have.
 * Columns are those of the first row that hold a number or nothing there (or the configured ones); one that
 * later holds a non-number is dropped (it is profiled as categorical). More than 100 such columns and no
 * configured list track nothing: pick them with `models.<m>.multivariate.features`.
 */
export class JointProfileBuilder {
  private names: string[] | null = null;
  private dropped: Uint8Array = new Uint8Array(0);
  private shift: Float64Array = new Float64Array(0);
  private chunks: RawSums[] | null = null;
  private readonly value: number[] = [];
  private readonly present: number[] = [];
  private header: readonly string[] | null = null;
  private rows = 0;
  private pilot: Float64Array[] | null = [];
  private lower: Float64Array = new Float64Array(0);
  private upper: Float64Array = new Float64Array(0);
  private headerIndex: number[] = [];

  constructor(
    private readonly options: {
      features?: readonly string[];
      exclude: ReadonlySet<string>;
      enabled: boolean;
    },
  ) {}

  /** `first` reads the first row's value of a column: one that is not a number there is not a candidate. */
  private start(columns: Iterable<string>, first: (column: string) => unknown): void {
    const names = this.options.features
      ? [...this.options.features]
      : [...columns].filter(
          (c) => !this.options.exclude.has(c) && JointProfileBuilder.parse(first(c)) !== null,
        );
    this.names = !this.options.enabled || names.length > COMOMENTS_MAX_DIM ? [] : names;
    const d = this.names.length;
    this.dropped = new Uint8Array(d);
    this.shift = new Float64Array(d).fill(Number.NaN);
    const t = (d * (d + 1)) / 2;
    this.chunks = Array.from({ length: BASELINE_CHUNKS }, () => new RawSums(t));
    for (let i = 0; i < d; i++) this.value.push(Number.NaN);
  }

  /** A value as the profiler reads it: a number, NaN when missing, or null when it is not a number. */
  private static parse(v: unknown): number | null {
    if (v === null || v === undefined) return Number.NaN;
    if (typeof v === 'number') return Number.isFinite(v) ? v : Number.NaN;
    if (typeof v === 'string') {
      const trimmed = v.trim();
      if (MISSING_TOKENS.has(trimmed)) return Number.NaN;
      const num = Number(trimmed);
      return Number.isFinite(num) ? num : null;
    }
    return null;
  }

  private set(i: number, v: unknown): void {
    const x = JointProfileBuilder.parse(v);
    if (x === null) {
      this.dropped[i] = 1;
      this.value[i] = Number.NaN;
    } else this.value[i] = x;
  }

  addRow(row: Record<string, unknown>): void {
    if (this.names === null) this.start(Object.keys(row), (c) => row[c]);
    const names = this.names as string[];
    for (let i = 0; i < names.length; i++)
      this.set(i, Object.hasOwn(row, names[i] as string) ? row[names[i] as string] : undefined);
    this.accumulate();
  }

  addValues(header: readonly string[], values: readonly string[]): void {
    if (this.names === null) {
      const at = new Map(header.map((h, i) => [h, i]));
      this.start(header, (c) => values[at.get(c) as number]);
    }
    if (this.header !== header) {
      this.header = header;
      const at = new Map(header.map((h, i) => [h, i]));
      this.headerIndex = (this.names as string[]).map((n) => at.get(n) ?? -1);
    }
    for (let i = 0; i < this.headerIndex.length; i++) {
      const k = this.headerIndex[i] as number;
      this.set(i, k < 0 ? undefined : values[k]);
    }
    this.accumulate();
  }

  /** Holds the first PILOT_ROWS rows until the clipping bounds are known, then sums every row. */
  private accumulate(): void {
    if (this.pilot) {
      this.pilot.push(Float64Array.from(this.value));
      if (this.pilot.length >= PILOT_ROWS) this.endPilot();
    } else this.sum();
  }

  private endPilot(): void {
    const pilot = this.pilot;
    if (!pilot) return;
    this.pilot = null;
    const d = this.value.length;
    this.lower = new Float64Array(d);
    this.upper = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      const seen: number[] = [];
      for (const row of pilot) if (!Number.isNaN(row[i] as number)) seen.push(row[i] as number);
      [this.lower[i], this.upper[i]] = clipBounds(seen);
    }
    for (const row of pilot) {
      for (let i = 0; i < d; i++) this.value[i] = row[i] as number;
      this.sum();
    }
  }

  private sum(): void {
    const d = this.value.length;
    const h = (this.chunks as RawSums[])[this.rows++ % BASELINE_CHUNKS] as RawSums;
    h.rows++;
    if (d === 0) return;
    const present = this.present;
    present.length = 0;
    for (let i = 0; i < d; i++) {
      const raw = this.value[i] as number;
      if (Number.isNaN(raw)) continue;
      const x = Math.min(this.upper[i] as number, Math.max(this.lower[i] as number, raw));
      if (Number.isNaN(this.shift[i] as number)) this.shift[i] = x;
      this.value[i] = x - (this.shift[i] as number);
      present.push(i);
    }
    for (let a = 0; a < present.length; a++) {
      const i = present[a] as number;
      const vi = this.value[i] as number;
      const base = i * d - (i * (i - 1)) / 2 - i;
      for (let b = a; b < present.length; b++) {
        const j = present[b] as number;
        const vj = this.value[j] as number;
        const t = base + j;
        h.both[t] = (h.both[t] as number) + 1;
        h.si[t] = (h.si[t] as number) + vi;
        h.sj[t] = (h.sj[t] as number) + vj;
        h.sij[t] = (h.sij[t] as number) + vi * vj;
      }
    }
  }

  /**
   * The co-moments of the tracked columns the profile made numeric with a positive sd, or null when fewer
   * than 2 remain (or the model is not watched jointly).
   */
  build(profiles: ReadonlyMap<string, ColumnProfile>): BaselineCoMoments | null {
    const names = this.names ?? [];
    const chunks = this.chunks;
    if (!chunks) return null;
    this.endPilot();
    const keep: number[] = [];
    const mean: number[] = [];
    const sd: number[] = [];
    for (let i = 0; i < names.length; i++) {
      const p = profiles.get(names[i] as string);
      if (this.dropped[i] || p?.type !== 'numeric' || !(p.std > 0) || !Number.isFinite(p.mean)) continue;
      keep.push(i);
      mean.push(p.mean);
      sd.push(p.std);
    }
    if (keep.length < 2) return null;
    const d = names.length;
    const k = keep.length;
    const half = (h: RawSums): CoMoments => {
      const acc = emptyCoMoments(k);
      acc.n = h.rows;
      for (let p = 0; p < k; p++) {
        const i = keep[p] as number;
        const ai = (mean[p] as number) - (this.shift[i] as number);
        const tii = triIndex(d, i, i);
        acc.missing[p] = h.rows - (h.both[tii] as number);
        acc.sum[p] = ((h.si[tii] as number) - (h.both[tii] as number) * ai) / (sd[p] as number);
        for (let q = p; q < k; q++) {
          const j = keep[q] as number;
          const aj = (mean[q] as number) - (this.shift[j] as number);
          const t = triIndex(d, i, j);
          // Σ over rows with both present of (x_i − μ_i)(x_j − μ_j), expanded about the shifts.
          const s =
            (h.sij[t] as number) -
            aj * (h.si[t] as number) -
            ai * (h.sj[t] as number) +
            (h.both[t] as number) * ai * aj;
          acc.sumsq[triIndex(k, p, q)] = s / ((sd[p] as number) * (sd[q] as number));
        }
      }
      return acc;
    };
    const own = chunks.map(half);
    const merged = (parity: number) =>
      own.filter((_, c) => c % 2 === parity).reduce((a, b) => mergeCoMoments(a, b));
    return {
      features: keep.map((i) => names[i] as string),
      mean,
      sd,
      lower: keep.map((i) => this.lower[i] as number),
      upper: keep.map((i) => this.upper[i] as number),
      fit: merged(0),
      calibration: merged(1),
      chunks: own,
    };
  }
}
