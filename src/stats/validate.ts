/** Any array-like of numbers: `number[]` or a typed array. */
export type NumericInput = ArrayLike<number>;

/** Thrown for inputs that would otherwise produce a meaningless (NaN) statistic. */
export class StatsInputError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'StatsInputError';
  }
}

/** Copies `values` into a Float64Array, rejecting empty input and any NaN / ±Infinity. */
export function finiteCopy(values: NumericInput, name: string, fn: string): Float64Array {
  const n = values?.length;
  if (typeof n !== 'number' || n === 0) {
    throw new StatsInputError(`${fn}: ${name} must be a non-empty array of finite numbers`);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      throw new StatsInputError(`${fn}: ${name}[${i}] is ${String(v)}; only finite numbers are accepted`);
    }
    out[i] = v;
  }
  return out;
}

/** Sorted finite copy (ascending). */
export function sortedCopy(values: NumericInput, name: string, fn: string): Float64Array {
  return finiteCopy(values, name, fn).sort();
}

/** Validates a vector of non-negative finite counts; returns a copy and its total. */
export function countsCopy(
  counts: NumericInput,
  name: string,
  fn: string,
  integer = false,
): { counts: Float64Array; total: number } {
  const c = finiteCopy(counts, name, fn);
  let total = 0;
  for (let i = 0; i < c.length; i++) {
    const v = c[i] as number;
    if (v < 0 || (integer && !Number.isInteger(v))) {
      throw new StatsInputError(
        `${fn}: ${name}[${i}] is ${v}; counts must be non-negative${integer ? ' integers' : ''}`,
      );
    }
    total += v;
  }
  return { counts: c, total };
}

/** Ensures `edges` are finite and strictly ascending. */
export function edgesCopy(edges: NumericInput, fn: string, allowEmpty = true): Float64Array {
  if (edges.length === 0) {
    if (allowEmpty) return new Float64Array(0);
    throw new StatsInputError(`${fn}: edges must not be empty`);
  }
  const e = finiteCopy(edges, 'edges', fn);
  for (let i = 1; i < e.length; i++) {
    if (!((e[i] as number) > (e[i - 1] as number))) {
      throw new StatsInputError(`${fn}: edges must be strictly ascending (edges[${i}] <= edges[${i - 1}])`);
    }
  }
  return e;
}

export function assertSameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>, fn: string): void {
  if (a.length !== b.length) {
    throw new StatsInputError(`${fn}: count vectors differ in length (${a.length} vs ${b.length})`);
  }
}
