import { fineGrid, nextUp } from '../stats/index.js';
import { predictionValue } from './binner.js';
import { ColumnValues, ValueStore, type ValueStoreOptions } from './spill.js';

// Profiles training data one row at a time. Numeric columns are kept as compact Float64Arrays (8 bytes a
// value, not a JS object per row) so edges and grids are exact quantiles of the whole training set; past a
// memory budget they are spilled to a temp file (spill.ts) and read back one column at a time.

export type ColumnType = 'numeric' | 'categorical';

export interface NumericProfile {
  type: 'numeric';
  count: number;
  missing: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation (ddof = 0), the scale Wasserstein distances are normed by. */
  std: number;
  /** Decile cut points (quantileEdges(values, 10)): the bins PSI and JS are computed on. */
  psiEdges: number[];
  /** Fine grid: every distinct training value when there are few, else quantile cut points; contains psiEdges. */
  gridEdges: number[];
  /** Training counts per grid cell (cell i = [gridEdges[i-1], gridEdges[i])). */
  gridCounts: number[];
  /** True when gridEdges holds every distinct training value, making grid KS/Wasserstein exact for the reference. */
  exact: boolean;
  /**
   * Sum of the training values per grid cell. Present on profiles whose aggregates also carry each cell's
   * position sum (count slots doubled, see binner.ts), so Wasserstein works from every cell's mean.
   */
  gridSums?: number[];
}

export interface CategoricalProfile {
  type: 'categorical';
  count: number;
  missing: number;
  distinct: number;
  /** The top-K categories by training frequency, most frequent first. */
  categories: string[];
  /** Training counts for `categories`, then one pooled count for every other training category. */
  counts: number[];
  /** The other (non-top-K) training categories, so production values outside top-K are not mistaken for unseen. */
  pooled: string[];
}

export type ColumnProfile = NumericProfile | CategoricalProfile;

export interface ProfileOptions {
  /** Columns forced to categorical (e.g. integer-coded categories). */
  categorical?: string[];
  /** Columns forced to numeric. */
  numeric?: string[];
  /** Columns to leave out of the profile. */
  exclude?: string[];
  /** Column holding the model's prediction on the training data. */
  prediction?: string | undefined;
  /** Column holding the training label (excluded from features). */
  label?: string | undefined;
  topK?: number;
  /** Maximum fine-grid cells for a numeric column. */
  gridCells?: number;
  /** Forced types may name columns the data lacks (a baseline rebuilt from production data). */
  allowAbsentColumns?: boolean;
}

export const DEFAULT_TOP_K = 50;
export const DEFAULT_GRID_CELLS = 1000;
// Beyond this many distinct raw values a column's value map is dropped: it can still be numeric, not categorical.
const MAX_TRACKED_DISTINCT = 100_000;
// A column that has held only numbers keeps the texts of at most this many distinct values: the map only
// matters if text turns up later (a mixed column is categorical), and keeping every distinct float of a wide
// training set (1,000 columns × 50k rows) would cost gigabytes and most of the profiling time.
const NUMERIC_TRACKED_DISTINCT = 1_000;
/** Values treated as missing in text formats (CSV), as pandas does by default. */
export const MISSING_TOKENS = new Set(['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', 'None', '#N/A']);

class ColumnAccumulator {
  readonly values: ColumnValues;
  numeric = 0;
  nonNumeric = 0;
  missing = 0;
  /** Raw value → count while the number of distinct values stays small enough to be categorical. */
  raw: Map<string, number> | null = new Map();
  /** The texts of numbers were dropped (NUMERIC_TRACKED_DISTINCT) while the column held only numbers. */
  numbersUntracked = false;

  /** `categorical`: the column is forced categorical, so every value's text is kept up to MAX_TRACKED_DISTINCT. */
  constructor(
    store: ValueStore,
    private readonly categorical = false,
  ) {
    this.values = new ColumnValues(store);
  }

  add(v: unknown): void {
    let num: number;
    let text: string;
    if (typeof v === 'string') {
      // Most values of a training file are numbers: they skip the missing-token lookup (no missing token is a
      // number; Number() trims as the lookup does, and '' is the only blank it reads as 0).
      num = Number(v);
      if (!Number.isFinite(num) || (num === 0 && v.trim() === '')) {
        if (MISSING_TOKENS.has(v.trim())) {
          this.missing++;
          return;
        }
        num = Number.NaN;
      }
      text = v;
    } else if (v === null || v === undefined) {
      this.missing++;
      return;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        this.missing++;
        return;
      }
      num = v;
      text = String(v);
    } else if (typeof v === 'boolean') {
      text = String(v);
      num = Number.NaN;
    } else {
      text = JSON.stringify(v);
      num = Number.NaN;
    }
    if (Number.isFinite(num)) {
      this.values.push(num);
      this.numeric++;
    } else this.nonNumeric++;
    if (this.raw) {
      this.raw.set(text, (this.raw.get(text) ?? 0) + 1);
      const cap = this.categorical || this.nonNumeric > 0 ? MAX_TRACKED_DISTINCT : NUMERIC_TRACKED_DISTINCT;
      if (this.raw.size > cap) {
        this.numbersUntracked = cap === NUMERIC_TRACKED_DISTINCT;
        this.raw = null;
      }
    }
  }
}

export class ProfileError extends Error {
  /** Problems with named upload parameters (`exclude`, `numeric`, …), when the error is about them. */
  constructor(
    message: string,
    readonly problems?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export interface BuiltProfile {
  rows: number;
  features: Map<string, ColumnProfile>;
  prediction: ColumnProfile | null;
}

/**
 * Accumulates rows (objects of column → value) and builds every column's profile at the end. Numeric
 * values past `storage.memoryBytes` go to a temp file: call close() when the builder is not built.
 */
export class ProfileBuilder {
  private readonly columns = new Map<string, ColumnAccumulator>();
  private readonly store: ValueStore;
  private rows = 0;
  private readonly exclude: Set<string>;
  /** Excluded columns the data does have, so a misspelt exclude is refused rather than ignored. */
  private readonly excludedSeen = new Set<string>();

  constructor(
    private readonly options: ProfileOptions = {},
    storage: ValueStoreOptions = {},
  ) {
    this.store = new ValueStore(storage);
    this.exclude = new Set([...(options.exclude ?? []), ...(options.label ? [options.label] : [])]);
  }

  addRow(row: Record<string, unknown>): void {
    this.rows++;
    const prediction = this.options.prediction;
    // Class probabilities in the prediction column are profiled as their top class, as logged ones are binned.
    for (const [name, value] of Object.entries(row))
      this.column(name)?.add(name === prediction ? predictionValue(value) : value);
    // Columns absent from this row count it as missing.
    for (const [name, col] of this.columns) if (!(name in row)) col.missing++;
  }

  /** The accumulator of a column (created when first seen); undefined for an excluded column. */
  private column(name: string): ColumnAccumulator | undefined {
    if (this.exclude.has(name)) {
      this.excludedSeen.add(name);
      return undefined;
    }
    let col = this.columns.get(name);
    if (!col) {
      col = new ColumnAccumulator(this.store, this.options.categorical?.includes(name) === true);
      // A column first seen late was missing in every earlier row.
      col.missing = this.rows - 1;
      this.columns.set(name, col);
    }
    return col;
  }

  /** The accumulators of a CSV header, looked up once per file rather than once per value. */
  private byHeader: { header: readonly string[]; cols: (ColumnAccumulator | undefined)[] } | null = null;

  /**
   * A CSV record: values in the order of `header` (the same array for every record of one file, which is
   * all a builder profiles), so every column is present in every record.
   */
  addValues(header: readonly string[], values: readonly string[]): void {
    this.rows++;
    if (this.byHeader?.header !== header) {
      if (this.byHeader !== null || this.columns.size > 0)
        throw new Error('a profile builder takes the records of one CSV file');
      this.byHeader = { header, cols: header.map((name) => this.column(name)) };
    }
    const cols = this.byHeader.cols;
    for (let i = 0; i < cols.length; i++) cols[i]?.add(values[i]);
  }

  /** Bytes of numeric values held in memory, and written to the spill file. */
  memory(): { held: number; spilled: number } {
    return { held: this.store.held, spilled: this.store.spilled };
  }

  /** Removes the spill file, if any; build() does so itself. */
  close(): void {
    this.store.close();
  }

  /**
   * The profiles of every column. `between`, when given, is awaited between columns (a large training
   * set takes tens of milliseconds per column to sort; the caller can let other work run meanwhile).
   */
  async build(between?: () => Promise<void>): Promise<BuiltProfile> {
    try {
      return await this.buildColumns(between);
    } finally {
      this.close();
    }
  }

  private async buildColumns(between?: () => Promise<void>): Promise<BuiltProfile> {
    if (this.rows === 0) throw new ProfileError('training data has no rows');
    const { prediction, label } = this.options;
    // A misspelt column would silently change the profile (an id column profiled, a type not forced).
    const unknown: { path: string; message: string }[] = [];
    const present = (name: string) => this.columns.has(name) || this.excludedSeen.has(name);
    if (prediction !== undefined && !this.columns.has(prediction)) {
      unknown.push({ path: 'prediction', message: `column "${prediction}" is not in the training data` });
    }
    const named: [string, readonly string[]][] = [
      ['label', label === undefined || this.options.allowAbsentColumns ? [] : [label]],
      ['categorical', this.options.allowAbsentColumns ? [] : (this.options.categorical ?? [])],
      ['numeric', this.options.allowAbsentColumns ? [] : (this.options.numeric ?? [])],
      ['exclude', this.options.allowAbsentColumns ? [] : (this.options.exclude ?? [])],
    ];
    for (const [path, names] of named) {
      for (const name of names)
        if (!present(name)) unknown.push({ path, message: `column "${name}" is not in the training data` });
    }
    if (unknown.length > 0)
      throw new ProfileError(unknown.map((u) => `${u.path}: ${u.message}`).join('; '), unknown);
    const features = new Map<string, ColumnProfile>();
    let predictionProfile: ColumnProfile | null = null;
    for (const [name, col] of this.columns) {
      if (between) await between();
      const profile = this.profileColumn(name, col);
      if (name === prediction) predictionProfile = profile;
      else features.set(name, profile);
    }
    if (features.size === 0) throw new ProfileError('training data has no feature columns');
    return { rows: this.rows, features, prediction: predictionProfile };
  }

  private typeOf(name: string, col: ColumnAccumulator): ColumnType {
    if (this.options.categorical?.includes(name)) return 'categorical';
    if (this.options.numeric?.includes(name)) return 'numeric';
    return col.numeric > 0 && col.nonNumeric === 0 ? 'numeric' : 'categorical';
  }

  private profileColumn(name: string, col: ColumnAccumulator): ColumnProfile {
    if (col.numeric + col.nonNumeric === 0) {
      throw new ProfileError(
        `column "${name}" has no values in the training data (all missing); leave it out with exclude`,
      );
    }
    const type = this.typeOf(name, col);
    if (type === 'numeric') {
      if (col.numeric === 0) throw new ProfileError(`column "${name}" has no numeric values to profile`);
      return numericProfile(col.values.take(), col.missing + col.nonNumeric, this.options.gridCells);
    }
    if (!col.raw && col.numbersUntracked) {
      throw new ProfileError(
        `column "${name}" mixes text with more than ${NUMERIC_TRACKED_DISTINCT} distinct numbers; name it in numeric= (its text values then count as missing) or in categorical= (every value a category)`,
        [{ path: 'categorical', message: `column "${name}" needs numeric= or categorical=` }],
      );
    }
    if (!col.raw) {
      throw new ProfileError(
        `column "${name}" has more than ${MAX_TRACKED_DISTINCT} distinct values; it cannot be categorical`,
      );
    }
    return categoricalProfile(col.raw, col.missing, this.options.topK ?? DEFAULT_TOP_K);
  }
}

/** Profile of a numeric column; `values` is consumed (sorted in place). */
export function numericProfile(
  values: Float64Array,
  missing: number,
  gridCells = DEFAULT_GRID_CELLS,
): NumericProfile {
  const sorted = values.sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ((sorted[i] as number) - mean) ** 2;

  const grid = fineGrid(sorted, { maxCells: gridCells });
  const min = sorted[0] as number;
  const max = sorted[n - 1] as number;
  const std = Math.sqrt(ss / n);
  // A last edge just above the training maximum gives values beyond it a cell of their own; without it they
  // would share [max, ∞) with the maximum and KS / Wasserstein could not see them. Cells beyond the training
  // range (below) keep production outliers apart from each other too.
  const integers = sorted.every((v) => Number.isInteger(v));
  const { below, above } = outerEdges(min, max, std, integers);
  const splits = Math.ceil((gridCells * WIDE_SPLITS_PER_1000) / 1000);
  const inner = grid.exact ? Array.from(grid.edges) : splitWideCells(sorted, Array.from(grid.edges), splits);
  // The fine grid may already end at nextUp(max) (a maximum held by many rows is a heavy value): once only.
  const top = nextUp(max);
  const gridEdges = [...below, ...inner.filter((e) => e < top), top, ...above];
  const gridCounts = new Array<number>(gridEdges.length + 1).fill(0);
  const gridSums = new Array<number>(gridEdges.length + 1).fill(0);
  // One merge pass over sorted values: the cell index only moves forward.
  let cell = 0;
  for (let i = 0; i < n; i++) {
    const v = sorted[i] as number;
    while (cell < gridEdges.length && (gridEdges[cell] as number) <= v) cell++;
    gridCounts[cell] = (gridCounts[cell] as number) + 1;
    gridSums[cell] = (gridSums[cell] as number) + v;
  }
  return {
    type: 'numeric',
    count: n,
    missing,
    min,
    max,
    mean,
    std,
    psiEdges: Array.from(grid.coarseEdges),
    gridEdges,
    gridCounts,
    exact: grid.exact,
    gridSums,
  };
}

/** Extra edges per 1,000 grid cells that split the widest cells (see splitWideCells). */
const WIDE_SPLITS_PER_1000 = 32;

/**
 * Splits the cell with the largest width × training count at its median training value, `extra` times. Equal-mass
 * quantile cells are very wide in a heavy tail (the top 0.1% of a lognormal spans most of its range), and a
 * cell's share of the Wasserstein error grows with width × mass; more cells in the body would not help.
 */
export function splitWideCells(sorted: Float64Array, edges: number[], extra: number): number[] {
  const n = sorted.length;
  // Cell i = [edges[i], edges[i+1]) (the last closed just above the maximum) holds sorted[lo[i] .. lo[i+1]).
  const left = edges.slice();
  const lo: number[] = [];
  let r = 0;
  for (const e of left) {
    while (r < n && (sorted[r] as number) < e) r++;
    lo.push(r);
  }
  const rightOf = (i: number) =>
    i + 1 < left.length ? (left[i + 1] as number) : nextUp(sorted[n - 1] as number);
  const hiOf = (i: number) => (i + 1 < lo.length ? (lo[i + 1] as number) : n);
  // Cells whose values all equal their left edge cannot be split.
  const stuck: boolean[] = left.map(() => false);
  for (let k = 0; k < extra; k++) {
    let best = -1;
    let bestScore = 0;
    for (let i = 0; i < left.length; i++) {
      const count = hiOf(i) - (lo[i] as number);
      const score = (rightOf(i) - (left[i] as number)) * count;
      if (count >= 2 && !stuck[i] && score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    if (best < 0) break;
    const start = lo[best] as number;
    const at = sorted[start + Math.floor((hiOf(best) - start) / 2)] as number;
    let j = start;
    if (at <= (left[best] as number)) {
      // A tie at the left edge holds the lower half: split at the first value above it, if any.
      while (j < hiOf(best) && (sorted[j] as number) <= (left[best] as number)) j++;
      if (j === hiOf(best)) {
        stuck[best] = true;
        continue;
      }
    } else while ((sorted[j] as number) < at) j++;
    left.splice(best + 1, 0, sorted[j] as number);
    lo.splice(best + 1, 0, j);
    stuck.splice(best + 1, 0, false);
  }
  return left;
}

/** Integer steps beyond the training range for integer features, before the cells start to grow. */
const OUTER_UNIT_STEPS = 32;

/**
 * Edges beyond the training range: for integer features every integer up to 32 steps out (so an outlier
 * such as 13 above a maximum of 10 still lies on an edge and keeps the window exact), then cells growing
 * by 2^(1/4) out to about 2^32 of the feature's scale (its std, or 1 step for integers). Production values
 * there carry their position sums (binner.ts), so far outliers are placed where they are.
 */
export function outerEdges(
  min: number,
  max: number,
  std: number,
  integers: boolean,
): { below: number[]; above: number[] } {
  const scale = integers ? 1 : std > 0 ? std : Math.max(Math.abs(max), Math.abs(min), 1) * 1e-3;
  const dists: number[] = [];
  if (integers) for (let k = 1; k <= OUTER_UNIT_STEPS; k++) dists.push(k);
  for (let k = integers ? 21 : -32; k <= 128; k++) {
    const d = scale * 2 ** (k / 4);
    dists.push(integers ? Math.round(d) : d);
  }
  const above: number[] = [];
  const below: number[] = [];
  for (const d of dists) {
    const hi = max + d;
    const lo = min - d;
    if (Number.isFinite(hi) && hi > nextUp(max) && (above.length === 0 || hi > (above.at(-1) as number)))
      above.push(hi);
    if (Number.isFinite(lo) && lo < min && (below.length === 0 || lo < (below.at(-1) as number)))
      below.push(lo);
  }
  return { below: below.reverse(), above };
}

export function categoricalProfile(
  raw: Map<string, number>,
  missing: number,
  topK: number,
): CategoricalProfile {
  const ranked = [...raw.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const top = ranked.slice(0, topK);
  const rest = ranked.slice(topK);
  const count = ranked.reduce((s, [, c]) => s + c, 0);
  return {
    type: 'categorical',
    count,
    missing,
    distinct: ranked.length,
    categories: top.map(([k]) => k),
    counts: [...top.map(([, c]) => c), rest.reduce((s, [, c]) => s + c, 0)],
    pooled: rest.map(([k]) => k),
  };
}
