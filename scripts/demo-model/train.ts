/**
 * Multinomial logistic regression (softmax), trained deterministically: parameters start at zero, then a
 * fixed number of damped Newton steps on the mean log-loss plus an L2 penalty. Everything is float64 and
 * sequential, so the same data gives the same weights bit for bit.
 */

export interface Dataset {
  /** Standardised feature rows. */
  x: number[][];
  /** Class index of each row. */
  y: number[];
}

export interface TrainOptions {
  classes: number;
  /** L2 penalty on every parameter, biases included (softmax is shift-invariant; this makes the optimum unique). */
  l2: number;
  iterations: number;
}

export interface Trained {
  /** Row-major [features, classes], as the ONNX MatMul wants it. */
  weights: number[];
  bias: number[];
  /** Objective after each Newton step. */
  objective: number[];
  gradientNorm: number;
}

/** θ is [classes][features + 1]: the last column is the bias. */
type Theta = number[][];

function probabilities(theta: Theta, row: number[]): number[] {
  const logits = theta.map((t) => {
    let z = t[row.length] as number;
    for (let j = 0; j < row.length; j++) z += (t[j] as number) * (row[j] as number);
    return z;
  });
  return softmax(logits);
}

export function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function objective(theta: Theta, data: Dataset, l2: number): number {
  let loss = 0;
  for (let i = 0; i < data.x.length; i++) {
    const p = probabilities(theta, data.x[i] as number[]);
    loss -= Math.log(p[data.y[i] as number] as number);
  }
  let penalty = 0;
  for (const t of theta) for (const v of t) penalty += v * v;
  return loss / data.x.length + (l2 / 2) * penalty;
}

/** Solves A x = b for a symmetric positive definite A (Cholesky). */
function solveSpd(a: number[][], b: number[]): number[] {
  const n = b.length;
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = (a[i] as number[])[j] as number;
      for (let k = 0; k < j; k++) s -= ((l[i] as number[])[k] as number) * ((l[j] as number[])[k] as number);
      if (i === j) {
        if (s <= 0) throw new Error('Hessian is not positive definite');
        (l[i] as number[])[i] = Math.sqrt(s);
      } else {
        (l[i] as number[])[j] = s / ((l[j] as number[])[j] as number);
      }
    }
  }
  const z = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= ((l[i] as number[])[k] as number) * (z[k] as number);
    z[i] = s / ((l[i] as number[])[i] as number);
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i] as number;
    for (let k = i + 1; k < n; k++) s -= ((l[k] as number[])[i] as number) * (x[k] as number);
    x[i] = s / ((l[i] as number[])[i] as number);
  }
  return x;
}

export function train(data: Dataset, options: TrainOptions): Trained {
  const { classes: K, l2, iterations } = options;
  const D = (data.x[0] as number[]).length;
  const P = D + 1;
  const n = data.x.length;
  let theta: Theta = Array.from({ length: K }, () => new Array<number>(P).fill(0));
  const history: number[] = [];
  let gradientNorm = Number.NaN;

  for (let iter = 0; iter < iterations; iter++) {
    const grad = new Array<number>(K * P).fill(0);
    const hess = Array.from({ length: K * P }, () => new Array<number>(K * P).fill(0));
    for (let i = 0; i < n; i++) {
      const row = [...(data.x[i] as number[]), 1];
      const p = probabilities(theta, data.x[i] as number[]);
      const y = data.y[i] as number;
      for (let k = 0; k < K; k++) {
        const pk = p[k] as number;
        const r = pk - (k === y ? 1 : 0);
        for (let j = 0; j < P; j++) grad[k * P + j] = (grad[k * P + j] as number) + r * (row[j] as number);
        for (let m = 0; m < K; m++) {
          const w = pk * ((k === m ? 1 : 0) - (p[m] as number));
          if (w === 0) continue;
          for (let j = 0; j < P; j++) {
            const h = hess[k * P + j] as number[];
            const wx = w * (row[j] as number);
            for (let q = 0; q < P; q++) h[m * P + q] = (h[m * P + q] as number) + wx * (row[q] as number);
          }
        }
      }
    }
    for (let a = 0; a < K * P; a++) {
      const t = (theta[Math.floor(a / P)] as number[])[a % P] as number;
      grad[a] = (grad[a] as number) / n + l2 * t;
      const h = hess[a] as number[];
      for (let c = 0; c < K * P; c++) h[c] = (h[c] as number) / n + (a === c ? l2 : 0);
    }
    gradientNorm = Math.sqrt(grad.reduce((s, g) => s + g * g, 0));
    const step = solveSpd(hess, grad);
    const current = objective(theta, data, l2);
    const slope = step.reduce((s, v, a) => s + v * (grad[a] as number), 0);
    // Backtracking (Armijo) keeps every step a descent; a step that cannot improve is skipped.
    let t = 1;
    let accepted: Theta | null = null;
    for (let halvings = 0; halvings < 30; halvings++, t /= 2) {
      const candidate = theta.map((row, k) => row.map((v, j) => v - t * (step[k * P + j] as number)));
      if (objective(candidate, data, l2) <= current - 1e-4 * t * slope) {
        accepted = candidate;
        break;
      }
    }
    if (accepted) theta = accepted;
    history.push(objective(theta, data, l2));
  }

  const weights: number[] = [];
  for (let j = 0; j < D; j++) for (let k = 0; k < K; k++) weights.push((theta[k] as number[])[j] as number);
  const bias = theta.map((t) => t[D] as number);
  return { weights, bias, objective: history, gradientNorm };
}

/** softmax(x·W + b) for W row-major [features, classes]: what the ONNX graph computes, in float64. */
export function predictProba(weights: ArrayLike<number>, bias: ArrayLike<number>, x: number[]): number[] {
  const K = bias.length;
  const logits: number[] = [];
  for (let k = 0; k < K; k++) {
    let z = bias[k] as number;
    for (let j = 0; j < x.length; j++) z += (x[j] as number) * (weights[j * K + k] as number);
    logits.push(z);
  }
  return softmax(logits);
}

/** Index of the largest value; the first wins a tie (the contract's argmax). */
export function argmax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}
