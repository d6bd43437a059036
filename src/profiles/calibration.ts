import {
  applyIsotonic,
  applyMulticlassCalibration,
  chooseCalibration,
  chooseMulticlassCalibration,
  type IsotonicMap,
} from '../stats/isotonic.js';
import { argmax } from '../stats/performance.js';

// What a baseline built with label= keeps for performance estimation: the classifier's kind, its accuracy on
// the labelled training rows (what performance_drop compares with) and the calibration map, if it helps.

/** Labelled training rows kept for calibration; beyond it a uniform reservoir sample (bounded memory). */
export const MAX_CALIBRATION_PAIRS = 200_000;

export interface BaselinePerformance {
  kind: 'binary' | 'multiclass';
  /** Binary: positive at score ≥ threshold. */
  threshold: number | null;
  /** Multiclass: class names in probability order (sorted). */
  classes: string[] | null;
  /** Labelled rows the map and accuracy come from (at most MAX_CALIBRATION_PAIRS). */
  rows: number;
  /** Realized accuracy of the model's decisions on those rows. */
  accuracy: number;
  method: 'isotonic' | 'identity';
  /** Binary map, or one map per class; null for the identity. */
  maps: IsotonicMap[] | null;
  /** ECE of the raw probabilities, and of the cross-fitted isotonic ones. */
  ece: { raw: number; isotonic: number | null };
}

/** A binary label: 1/true/"1"/"true"/"yes" are positive, 0/false/"0"/"false"/"no" negative; else unusable. */
export function binaryLabel(v: unknown): 0 | 1 | null {
  if (v === true || v === 1) return 1;
  if (v === false || v === 0) return 0;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (t === '1' || t === 'true' || t === 'yes') return 1;
    if (t === '0' || t === 'false' || t === 'no') return 0;
  }
  return null;
}

/** A score in [0, 1] from a logged or training value (CSV values arrive as text). */
export function scoreOf(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  return n >= 0 && n <= 1 ? n : null;
}

/** Class probabilities as {class: p}; null unless a plain object of at least 2 numbers in [0, 1]. */
export function probabilitiesOf(v: unknown): Record<string, number> | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, number> = {};
  let n = 0;
  for (const [k, p] of Object.entries(v)) {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) return null;
    out[k] = p;
    n++;
  }
  return n >= 2 ? out : null;
}

type Pair = { score: number; label: 0 | 1 } | { probs: Record<string, number>; label: string };

/**
 * Collects (prediction, label) pairs of training rows: every row up to MAX_CALIBRATION_PAIRS, then a uniform
 * reservoir sample (algorithm R, seeded so a baseline is rebuilt identically).
 */
export class CalibrationPairs {
  private readonly pairs: Pair[] = [];
  private seen = 0;
  private seed = 0x9e3779b9;

  constructor(private readonly cap = MAX_CALIBRATION_PAIRS) {}

  add(prediction: unknown, label: unknown): void {
    if (label === null || label === undefined || label === '') return;
    let pair: Pair | null = null;
    const probs = probabilitiesOf(prediction);
    if (probs) pair = { probs, label: String(label) };
    else {
      const score = scoreOf(prediction);
      const y = binaryLabel(label);
      if (score !== null && y !== null) pair = { score, label: y };
    }
    if (!pair) return;
    this.seen++;
    if (this.pairs.length < this.cap) this.pairs.push(pair);
    else {
      const j = Math.floor(this.random() * this.seen);
      if (j < this.cap) this.pairs[j] = pair;
    }
  }

  /** mulberry32 */
  private random(): number {
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** The baseline's performance facts, or null without usable labelled rows. */
  build(threshold: number): BaselinePerformance | null {
    const binary = this.pairs.filter((p): p is Extract<Pair, { score: number }> => 'score' in p);
    const multi = this.pairs.filter((p): p is Extract<Pair, { probs: object }> => 'probs' in p);
    if (binary.length >= multi.length && binary.length > 0) return binaryFacts(binary, threshold);
    if (multi.length > 0) return multiclassFacts(multi);
    return null;
  }
}

function binaryFacts(pairs: { score: number; label: 0 | 1 }[], threshold: number): BaselinePerformance {
  const scores = pairs.map((p) => p.score);
  const labels = pairs.map((p) => p.label);
  const choice = chooseCalibration(scores, labels);
  let correct = 0;
  for (const p of pairs) if ((p.score >= threshold ? 1 : 0) === p.label) correct++;
  return {
    kind: 'binary',
    threshold,
    classes: null,
    rows: pairs.length,
    accuracy: correct / pairs.length,
    method: choice.method,
    maps: choice.map ? [choice.map] : null,
    ece: { raw: choice.eceIdentity, isotonic: Number.isNaN(choice.eceIsotonic) ? null : choice.eceIsotonic },
  };
}

function multiclassFacts(pairs: { probs: Record<string, number>; label: string }[]): BaselinePerformance {
  const names = new Set<string>();
  for (const p of pairs) for (const k of Object.keys(p.probs)) names.add(k);
  const classes = [...names].sort();
  // Rows whose label is not a class of the probabilities cannot be scored.
  const usable = pairs.filter((p) => names.has(p.label));
  const rows = usable.map((p) => classes.map((c) => p.probs[c] ?? 0));
  const labels = usable.map((p) => classes.indexOf(p.label));
  let correct = 0;
  rows.forEach((r, i) => {
    if (argmax(r) === labels[i]) correct++;
  });
  const choice =
    rows.length > 0
      ? chooseMulticlassCalibration(rows, labels)
      : { method: 'identity' as const, maps: null, eceIdentity: Number.NaN, eceIsotonic: Number.NaN };
  return {
    kind: 'multiclass',
    threshold: null,
    classes,
    rows: rows.length,
    accuracy: rows.length === 0 ? Number.NaN : correct / rows.length,
    method: choice.method,
    maps: choice.maps,
    ece: { raw: choice.eceIdentity, isotonic: Number.isNaN(choice.eceIsotonic) ? null : choice.eceIsotonic },
  };
}

/** The calibrated probability of a binary score (the score itself without a map). */
export function calibrateScore(facts: BaselinePerformance | null, score: number): number {
  const map = facts?.kind === 'binary' ? facts.maps?.[0] : undefined;
  return map ? applyIsotonic(map, score) : score;
}

/** Calibrated class probabilities in `classes` order (raw when the baseline has no map for these classes). */
export function calibrateProbabilities(
  facts: BaselinePerformance | null,
  classes: readonly string[],
  probs: number[],
): number[] {
  if (facts?.kind !== 'multiclass' || !facts.maps || !facts.classes) return probs;
  if (facts.classes.length !== classes.length || facts.classes.some((c, i) => c !== classes[i])) return probs;
  return applyMulticlassCalibration(facts.maps, probs);
}
