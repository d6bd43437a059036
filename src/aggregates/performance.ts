import type { Config } from '../config/index.js';
import {
  type BaselinePerformance,
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
import type { NewRecord, PerformanceDelta } from '../store/index.js';
import type { LoadedBaseline } from './baseline-cache.js';

// Per-bucket performance accumulators of classifiers that log probabilities, built beside the other
// aggregates and written in the same transaction (AggregateBatch.write).

/** An accumulator's shape, stored as the row's `spec`: rows of one spec add. */
export type PerformanceSpec =
  | { kind: 'binary'; threshold: number; bins: number }
  | { kind: 'multiclass'; classes: string[] };

export const BINARY_BINS = 100;

/** The accumulator as one float64 vector: count, Σp̂, Σp̂² laid end to end. */
export function toVector(acc: PerformanceAccumulator): Float64Array {
  return Float64Array.from([...acc.count, ...acc.sumP, ...acc.sumP2]);
}

/** The accumulator of a stored vector of this spec. */
export function fromVector(spec: PerformanceSpec, v: Float64Array): PerformanceAccumulator {
  const acc =
    spec.kind === 'binary'
      ? emptyBinary({ threshold: spec.threshold, bins: spec.bins })
      : emptyMulticlass(spec.classes.length);
  const rows = acc.count.length;
  const cells = acc.sumP.length;
  if (v.length !== rows + 2 * cells)
    throw new Error(`performance vector of ${v.length} values for ${rows}/${cells}`);
  acc.count = Array.from(v.subarray(0, rows));
  acc.sumP = Array.from(v.subarray(rows, rows + cells));
  acc.sumP2 = Array.from(v.subarray(rows + cells));
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

/** How a model's predictions are read: as declared (declaredKind), else by the value's shape. */
function kindFor(
  declared: ReturnType<typeof declaredKind>,
  prediction: unknown,
): 'binary' | 'multiclass' | null {
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

/** A binary spec as declared for one (model, baseline): the same for every record of a batch. */
interface BinarySpec {
  spec: PerformanceSpec;
  json: string;
}

interface Slot {
  delta: Omit<PerformanceDelta, 'sums'>;
  acc: PerformanceAccumulator;
}

/** Accumulates the records of one ingest batch per (model, version, bucket, spec). */
export class PerformanceBatch {
  private readonly accs = new Map<string, Slot>();
  // Per model and baseline: the declared kind and the binary spec, worked out once per batch rather than
  // per record (they depend only on the configuration and the baseline).
  private readonly declared = new Map<
    string,
    Map<LoadedBaseline | null, { kind: ReturnType<typeof declaredKind>; binary: BinarySpec }>
  >();
  // Records come mostly in time order: the slot of the previous record is usually this one's too.
  private last:
    | { model: string; modelVersion: string; bucketStart: number; bucketMs: number; spec: string; slot: Slot }
    | undefined;

  constructor(private readonly config: Config) {}

  private facts(model: string, baseline: LoadedBaseline | null) {
    let byBaseline = this.declared.get(model);
    if (!byBaseline) {
      byBaseline = new Map();
      this.declared.set(model, byBaseline);
    }
    let f = byBaseline.get(baseline);
    if (!f) {
      const spec: PerformanceSpec = {
        kind: 'binary',
        threshold: thresholdFor(this.config, model, baseline?.performance ?? null),
        bins: BINARY_BINS,
      };
      f = { kind: declaredKind(this.config, model, baseline), binary: { spec, json: JSON.stringify(spec) } };
      byBaseline.set(baseline, f);
    }
    return f;
  }

  add(r: NewRecord, bucketStart: number, bucketMs: number, baseline: LoadedBaseline | null): void {
    if (r.prediction === null || r.prediction === undefined) return;
    const declared = this.facts(r.model, baseline);
    const kind = kindFor(declared.kind, r.prediction);
    if (kind === null) return;
    const facts = baseline?.performance ?? null;
    if (kind === 'binary') {
      const score = scoreOf(r.prediction);
      if (score === null || typeof r.prediction !== 'number') return;
      const s = this.slot(r, bucketStart, bucketMs, declared.binary.spec, declared.binary.json);
      if (s.acc.kind === 'binary') addBinary(s.acc, score, calibrateScore(facts, score));
      s.delta.rows++;
      return;
    }
    const probs = probabilitiesOf(r.prediction);
    if (!probs) return;
    const classes = Object.keys(probs).sort();
    const raw = classes.map((c) => probs[c] as number);
    let total = 0;
    for (const p of raw) total += p;
    // Rows that are not a distribution (sum off by more than 1e-3) are not estimated, rather than failing ingest.
    if (Math.abs(total - 1) > 1e-3) return;
    const spec: PerformanceSpec = { kind, classes };
    const s = this.slot(r, bucketStart, bucketMs, spec, JSON.stringify(spec));
    if (s.acc.kind === 'multiclass')
      addMulticlass(s.acc, calibrateProbabilities(facts, classes, raw), argmax(raw));
    s.delta.rows++;
  }

  private slot(
    r: NewRecord,
    bucketStart: number,
    bucketMs: number,
    spec: PerformanceSpec,
    json: string,
  ): Slot {
    const last = this.last;
    if (
      last &&
      last.bucketStart === bucketStart &&
      last.spec === json &&
      last.model === r.model &&
      last.modelVersion === r.modelVersion &&
      last.bucketMs === bucketMs
    )
      return last.slot;
    const key = `${r.model}\u0000${r.modelVersion}\u0000${bucketStart}\u0000${bucketMs}\u0000${json}`;
    let s = this.accs.get(key);
    if (!s) {
      s = {
        delta: { model: r.model, modelVersion: r.modelVersion, bucketStart, bucketMs, spec: json, rows: 0 },
        acc:
          spec.kind === 'binary'
            ? emptyBinary({ threshold: spec.threshold, bins: spec.bins })
            : emptyMulticlass(spec.classes.length),
      };
      this.accs.set(key, s);
    }
    this.last = { model: r.model, modelVersion: r.modelVersion, bucketStart, bucketMs, spec: json, slot: s };
    return s;
  }

  deltas(): PerformanceDelta[] {
    return [...this.accs.values()].map((s) => ({ ...s.delta, sums: toVector(s.acc) }));
  }
}
