import type { Config } from '../config/index.js';
import {
  type BaselinePerformance,
  binaryLabel,
  calibrateProbabilities,
  calibrateScore,
  probabilitiesOf,
  scoreOf,
} from '../profiles/calibration.js';
import type { NumericProfile } from '../profiles/profile.js';
import {
  addBinary,
  addMulticlass,
  argmax,
  emptyBinary,
  emptyMulticlass,
  type PerformanceAccumulator,
} from '../stats/performance.js';
import {
  addRealizedBinary,
  addRealizedMulticlass,
  emptyRealizedBinary,
  emptyRealizedMulticlass,
  type RealizedAccumulator,
} from '../stats/realized.js';
import type { NewRecord, PerformanceDelta } from '../store/index.js';
import type { LoadedBaseline } from './baseline-cache.js';

// Per-bucket performance accumulators of classifiers that log probabilities, built beside the other
// aggregates and written in the same transaction (AggregateBatch.write).

/** An accumulator's shape, stored as the row's `spec`: rows of one spec add. */
/** `aucBins` (K classes): per-class score cells kept for the one-vs-rest AUC; absent in rows written before. */
export type PerformanceSpec =
  | { kind: 'binary'; threshold: number; bins: number }
  | { kind: 'multiclass'; classes: string[]; aucBins?: number };

export const BINARY_BINS = 100;
/** Per-class AUC cells cost K·100 cells of three sums (estimate) and two counts (realized) per bucket. */
export const MULTICLASS_AUC_BINS = 100;
export const MULTICLASS_AUC_MAX_CLASSES = 20;

function emptyOf(spec: PerformanceSpec): PerformanceAccumulator {
  return spec.kind === 'binary'
    ? emptyBinary({ threshold: spec.threshold, bins: spec.bins })
    : emptyMulticlass(spec.classes.length, spec.aucBins === undefined ? {} : { aucBins: spec.aucBins });
}

function emptyRealizedOf(spec: PerformanceSpec): RealizedAccumulator {
  return spec.kind === 'binary'
    ? emptyRealizedBinary({ threshold: spec.threshold, bins: spec.bins })
    : emptyRealizedMulticlass(
        spec.classes.length,
        spec.aucBins === undefined ? {} : { aucBins: spec.aucBins },
      );
}

/** The accumulator as one float64 vector: count, Σp̂, Σp̂² laid end to end, then the AUC cells' three. */
export function toVector(acc: PerformanceAccumulator): Float64Array {
  const auc =
    acc.kind === 'multiclass' && acc.auc ? [...acc.auc.count, ...acc.auc.sumP, ...acc.auc.sumP2] : [];
  return Float64Array.from([...acc.count, ...acc.sumP, ...acc.sumP2, ...auc]);
}

/** Cuts a stored vector into parts of these lengths; a vector of another length is refused. */
function cut(v: Float64Array, lengths: number[], what: string): number[][] {
  const total = lengths.reduce((s, n) => s + n, 0);
  if (v.length !== total) throw new Error(`${what} vector of ${v.length} values for ${lengths.join('/')}`);
  let at = 0;
  return lengths.map((n) => {
    const part = Array.from(v.subarray(at, at + n));
    at += n;
    return part;
  });
}

/** The accumulator of a stored vector of this spec. */
export function fromVector(spec: PerformanceSpec, v: Float64Array): PerformanceAccumulator {
  const acc = emptyOf(spec);
  const rows = acc.count.length;
  const cells = acc.sumP.length;
  const auc = acc.kind === 'multiclass' ? acc.auc : undefined;
  const aucCells = auc ? auc.count.length : 0;
  const [count, sumP, sumP2, aCount, aSumP, aSumP2] = cut(
    v,
    [rows, cells, cells, ...(auc ? [aucCells, aucCells, aucCells] : [])],
    'performance',
  ) as number[][];
  acc.count = count as number[];
  acc.sumP = sumP as number[];
  acc.sumP2 = sumP2 as number[];
  if (auc) {
    auc.count = aCount as number[];
    auc.sumP = aSumP as number[];
    auc.sumP2 = aSumP2 as number[];
  }
  return acc;
}

/** Realized counts as one float64 vector: binary positives then negatives per cell; K classes the confusion
 * matrix, then the AUC cells' positives and negatives. */
export function toRealizedVector(acc: RealizedAccumulator): Float64Array {
  if (acc.kind === 'binary') return Float64Array.from([...acc.pos, ...acc.neg]);
  return Float64Array.from([...acc.confusion, ...(acc.auc ? [...acc.auc.pos, ...acc.auc.neg] : [])]);
}

export function fromRealizedVector(spec: PerformanceSpec, v: Float64Array): RealizedAccumulator {
  const acc = emptyRealizedOf(spec);
  if (acc.kind === 'binary') {
    const [pos, neg] = cut(v, [acc.pos.length, acc.pos.length], 'realized performance') as number[][];
    acc.pos = pos as number[];
    acc.neg = neg as number[];
    return acc;
  }
  const aucCells = acc.auc ? acc.auc.pos.length : 0;
  const [confusion, pos, neg] = cut(
    v,
    [acc.confusion.length, ...(acc.auc ? [aucCells, aucCells] : [])],
    'realized performance',
  ) as number[][];
  acc.confusion = confusion as number[];
  if (acc.auc) {
    acc.auc.pos = pos as number[];
    acc.auc.neg = neg as number[];
  }
  return acc;
}

/**
 * How a model's predictions are read as far as its configuration and baseline say: configured, else the
 * baseline's facts, else a numeric prediction column within [0, 1] (a score); undefined when they do not say.
 */
function declaredKind(
  config: Config,
  model: string,
  baseline: LoadedBaseline | null,
): 'binary' | 'multiclass' | null | undefined {
  const configured = config.models[model]?.performance?.kind;
  if (configured) return configured;
  if (baseline?.performance) return baseline.performance.kind;
  const profile = baseline?.prediction?.profile;
  // A numeric prediction column reaching outside [0, 1] is a regression, not a score.
  if (profile?.type === 'numeric') {
    const p = profile as NumericProfile;
    return p.min >= 0 && p.max <= 1 ? 'binary' : null;
  }
  return undefined;
}

/** How a model's predictions are read: configured, else the baseline's facts, else the value's shape. */
function kindFor(
  config: Config,
  model: string,
  baseline: LoadedBaseline | null,
  prediction: unknown,
): 'binary' | 'multiclass' | null {
  const declared = declaredKind(config, model, baseline);
  if (declared !== undefined) return declared;
  if (typeof prediction === 'number') return prediction >= 0 && prediction <= 1 ? 'binary' : null;
  return probabilitiesOf(prediction) ? 'multiclass' : null;
}

export function thresholdFor(config: Config, model: string, facts: BaselinePerformance | null): number {
  return config.models[model]?.performance?.threshold ?? facts?.threshold ?? 0.5;
}

/**
 * The threshold a binary classifier's scores are decided at, for its labels' outcomes; null unless the
 * configuration or the baseline makes the model binary (a lone score in [0, 1] may be a regression's).
 */
export function binaryThresholdFor(
  config: Config,
  model: string,
  baseline: LoadedBaseline | null,
): number | null {
  return declaredKind(config, model, baseline) === 'binary'
    ? thresholdFor(config, model, baseline?.performance ?? null)
    : null;
}

/** One logged prediction as the performance accumulators read it: its spec and what each row adds. */
export type ScoredPrediction =
  | { spec: Extract<PerformanceSpec, { kind: 'binary' }>; score: number; probability: number }
  | {
      spec: Extract<PerformanceSpec, { kind: 'multiclass' }>;
      /** Raw probabilities in class order (binned for AUC; their argmax is the decision). */
      raw: number[];
      calibrated: number[];
      predicted: number;
    };

/**
 * How a logged prediction enters the performance accumulators, or null when it does not (not a score or a
 * distribution, or a regression). Ingest and label joins both read it, so a label lands in its row's cells.
 */
export function scoredPrediction(
  config: Config,
  model: string,
  baseline: LoadedBaseline | null,
  prediction: unknown,
  options: { calibrate?: boolean } = {},
): ScoredPrediction | null {
  // Realized counts need only the raw scores: calibrating every row of a recounted bucket is wasted work.
  const calibrate = options.calibrate !== false;
  if (prediction === null || prediction === undefined) return null;
  const kind = kindFor(config, model, baseline, prediction);
  if (kind === null) return null;
  const facts = baseline?.performance ?? null;
  if (kind === 'binary') {
    const score = scoreOf(prediction);
    if (score === null || typeof prediction !== 'number') return null;
    return {
      spec: { kind, threshold: thresholdFor(config, model, facts), bins: BINARY_BINS },
      score,
      probability: calibrate ? calibrateScore(facts, score) : score,
    };
  }
  const probs = probabilitiesOf(prediction);
  if (!probs) return null;
  const classes = Object.keys(probs).sort();
  const raw = classes.map((c) => probs[c] as number);
  let total = 0;
  for (const p of raw) total += p;
  // Rows that are not a distribution (sum off by more than 1e-3) are not estimated, rather than failing ingest.
  if (Math.abs(total - 1) > 1e-3) return null;
  return {
    spec: {
      kind,
      classes,
      ...(classes.length <= MULTICLASS_AUC_MAX_CLASSES ? { aucBins: MULTICLASS_AUC_BINS } : {}),
    },
    raw,
    calibrated: calibrate ? calibrateProbabilities(facts, classes, raw) : raw,
    predicted: argmax(raw),
  };
}

/** Two specs that write the same `spec` text (=== on numbers is stricter than JSON: then they are not). */
function sameSpec(a: PerformanceSpec, b: PerformanceSpec): boolean {
  if (a.kind === 'binary') return b.kind === 'binary' && a.threshold === b.threshold && a.bins === b.bins;
  if (b.kind !== 'multiclass' || a.aucBins !== b.aucBins || a.classes.length !== b.classes.length)
    return false;
  for (let i = 0; i < a.classes.length; i++) if (a.classes[i] !== b.classes[i]) return false;
  return true;
}

/**
 * The previous record's (model, version, bucket, spec) and its accumulator: records mostly come in runs that
 * share them, and building the map key (the spec as JSON) per record cost more than the accumulating.
 */
class LastSlot<T> {
  private model = '';
  private modelVersion = '';
  private bucketStart = Number.NaN;
  private bucketMs = Number.NaN;
  private spec: PerformanceSpec | null = null;
  private slot: T | undefined;

  get(r: Keyed, bucketStart: number, bucketMs: number, spec: PerformanceSpec): T | undefined {
    return this.spec !== null &&
      r.model === this.model &&
      r.modelVersion === this.modelVersion &&
      bucketStart === this.bucketStart &&
      bucketMs === this.bucketMs &&
      sameSpec(spec, this.spec)
      ? this.slot
      : undefined;
  }

  set(r: Keyed, bucketStart: number, bucketMs: number, spec: PerformanceSpec, slot: T): void {
    this.model = r.model;
    this.modelVersion = r.modelVersion;
    this.bucketStart = bucketStart;
    this.bucketMs = bucketMs;
    this.spec = spec;
    this.slot = slot;
  }
}

type PerformanceSlot = { delta: Omit<PerformanceDelta, 'sums'>; acc: PerformanceAccumulator };

/** Accumulates the records of one ingest batch per (model, version, bucket, spec). */
export class PerformanceBatch {
  private readonly accs = new Map<string, PerformanceSlot>();
  private readonly last = new LastSlot<PerformanceSlot>();

  constructor(private readonly config: Config) {}

  add(r: NewRecord, bucketStart: number, bucketMs: number, baseline: LoadedBaseline | null): void {
    const scored = scoredPrediction(this.config, r.model, baseline, r.prediction);
    if (!scored) return;
    let s = this.last.get(r, bucketStart, bucketMs, scored.spec);
    if (!s) {
      const key = keyOf(r, bucketStart, bucketMs, scored.spec);
      s = this.accs.get(key);
      if (!s) {
        s = { delta: deltaOf(r, bucketStart, bucketMs, scored.spec), acc: emptyOf(scored.spec) };
        this.accs.set(key, s);
      }
      this.last.set(r, bucketStart, bucketMs, scored.spec, s);
    }
    if (s.acc.kind === 'binary' && 'score' in scored) addBinary(s.acc, scored.score, scored.probability);
    else if (s.acc.kind === 'multiclass' && 'raw' in scored)
      addMulticlass(s.acc, scored.calibrated, scored.predicted, scored.raw);
    s.delta.rows++;
  }

  deltas(): PerformanceDelta[] {
    return [...this.accs.values()].map((s) => ({ ...s.delta, sums: toVector(s.acc) }));
  }
}

type Keyed = Pick<NewRecord, 'model' | 'modelVersion'>;

function keyOf(r: Keyed, bucketStart: number, bucketMs: number, spec: PerformanceSpec): string {
  return `${r.model}\u0000${r.modelVersion}\u0000${bucketStart}\u0000${bucketMs}\u0000${JSON.stringify(spec)}`;
}

function deltaOf(
  r: Keyed,
  bucketStart: number,
  bucketMs: number,
  spec: PerformanceSpec,
): Omit<PerformanceDelta, 'sums'> {
  return {
    model: r.model,
    modelVersion: r.modelVersion,
    bucketStart,
    bucketMs,
    spec: JSON.stringify(spec),
    rows: 0,
  };
}

type RealizedSlot = { delta: Omit<PerformanceDelta, 'sums'>; acc: RealizedAccumulator };

/**
 * Realized counts of labelled rows per (model, version, bucket, spec), in the cells of the same spec as
 * the estimate: a binary classifier's 0/1, true/false or yes/no label; a K-class model's label as text.
 */
export class RealizedBatch {
  private readonly accs = new Map<string, RealizedSlot>();
  private readonly last = new LastSlot<RealizedSlot>();

  constructor(private readonly config: Config) {}

  /** Adds one labelled row; false when no performance measure counts it (see `scoredPrediction`). */
  add(
    r: Keyed & { prediction: unknown; label: unknown },
    bucketStart: number,
    bucketMs: number,
    baseline: LoadedBaseline | null,
  ): boolean {
    if (r.label === null || r.label === undefined) return false;
    const scored = scoredPrediction(this.config, r.model, baseline, r.prediction, { calibrate: false });
    if (!scored) return false;
    let y: number | null;
    if (scored.spec.kind === 'binary') y = binaryLabel(r.label);
    else y = scored.spec.classes.indexOf(String(r.label));
    if (y === null) return false;
    let s = this.last.get(r, bucketStart, bucketMs, scored.spec);
    if (!s) {
      const key = keyOf(r, bucketStart, bucketMs, scored.spec);
      s = this.accs.get(key);
      if (!s) {
        s = { delta: deltaOf(r, bucketStart, bucketMs, scored.spec), acc: emptyRealizedOf(scored.spec) };
        this.accs.set(key, s);
      }
      this.last.set(r, bucketStart, bucketMs, scored.spec, s);
    }
    if (s.acc.kind === 'binary' && 'score' in scored) addRealizedBinary(s.acc, scored.score, y as 0 | 1);
    else if (s.acc.kind === 'multiclass' && 'raw' in scored)
      addRealizedMulticlass(s.acc, scored.predicted, y, scored.raw);
    s.delta.rows++;
    return true;
  }

  deltas(): PerformanceDelta[] {
    return [...this.accs.values()].map((s) => ({ ...s.delta, sums: toRealizedVector(s.acc) }));
  }
}
