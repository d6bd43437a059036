import { type FieldProblem, formatPath } from '../errors.js';
import { categoriesOf, featureWidth, type InputSpec, type Manifest } from './manifest.js';

// Predict requests are strict, unlike ingest: a value the graph cannot take is refused with its path, never
// guessed at. The only coercion is the lossless one, an integer where a number is expected (JSON has no
// distinction anyway). null is "no value": refused for a required input, the default for an optional one.

export type FeatureValue = number | string | boolean;
/** One validated instance: every input of the manifest, in its order, defaults filled. */
export type FeatureValues = Record<string, FeatureValue>;

export type InstanceValidation =
  | { ok: true; values: FeatureValues }
  | { ok: false; problems: FieldProblem[] };

export type RequestValidation =
  | { ok: true; form: 'features' | 'instances'; rows: FeatureValues[] }
  | { ok: false; problems: FieldProblem[] };

export const DEFAULT_MAX_INSTANCES = 1000;

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function typeName(v: unknown): string {
  // JSON.parse turns 1e999 into Infinity, a number to typeof but not a value the graph can take.
  if (typeof v === 'number' && !Number.isFinite(v)) return 'a number out of range';
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Why `value` is not acceptable for `input`, or undefined. */
function valueProblem(manifest: Manifest, input: InputSpec, value: unknown): string | undefined {
  switch (input.type) {
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value))
        return `expected ${input.type}, got ${typeName(value)}`;
      if (input.type === 'integer' && !Number.isInteger(value)) return `expected integer, got ${value}`;
      if (input.range && (value < input.range[0] || value > input.range[1]))
        return `outside the allowed range [${input.range[0]}, ${input.range[1]}]`;
      return undefined;
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `expected boolean, got ${typeName(value)}`;
    case 'string': {
      if (typeof value !== 'string') return `expected string, got ${typeName(value)}`;
      const categories = categoriesOf(manifest, input);
      return categories && !categories.includes(value) ? `not one of ${categories.join(', ')}` : undefined;
    }
  }
}

/**
 * Checks one instance against the manifest's inputs; `path` names it in problems (`features`,
 * `instances[3]`). Every problem is reported: missing, unknown, wrong type, outside range or categories.
 */
export function validateInstance(manifest: Manifest, value: unknown, path: string): InstanceValidation {
  if (!isMapping(value))
    return { ok: false, problems: [{ path, message: `expected object, got ${typeName(value)}` }] };
  const problems: FieldProblem[] = [];
  const known = new Set(manifest.inputs.map((i) => i.name));
  for (const key of Object.keys(value)) {
    if (!known.has(key)) problems.push({ path: formatPath(path, [key]), message: 'unknown field' });
  }
  const values: FeatureValues = {};
  for (const input of manifest.inputs) {
    const given = Object.hasOwn(value, input.name) ? value[input.name] : undefined;
    const at = formatPath(path, [input.name]);
    if (given === undefined || given === null) {
      if (input.required)
        problems.push({
          path: at,
          message: given === null ? 'missing (required, got null)' : 'missing (required)',
        });
      else if (input.default !== undefined) values[input.name] = input.default;
      continue;
    }
    const problem = valueProblem(manifest, input, given);
    if (problem) problems.push({ path: at, message: problem });
    else values[input.name] = given as FeatureValue;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, values };
}

/**
 * Checks a predict body: `{"features": {…}}` or `{"instances": [{…}, …]}`, exactly one of the two, with at
 * most `maxInstances` instances. Reports the problems of every instance (`instances[3].temp_max`).
 */
export function validateRequest(
  manifest: Manifest,
  body: unknown,
  options: { maxInstances?: number } = {},
): RequestValidation {
  const max = options.maxInstances ?? DEFAULT_MAX_INSTANCES;
  if (!isMapping(body))
    return { ok: false, problems: [{ path: '(body)', message: `expected object, got ${typeName(body)}` }] };
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(body)) {
    if (key !== 'features' && key !== 'instances')
      problems.push({ path: formatPath('', [key]), message: 'unknown field' });
  }
  const hasFeatures = Object.hasOwn(body, 'features');
  const hasInstances = Object.hasOwn(body, 'instances');
  if (hasFeatures === hasInstances) {
    problems.push({
      path: '(body)',
      message: 'give exactly one of "features" (one instance) or "instances" (a batch)',
    });
    return { ok: false, problems };
  }
  if (hasFeatures) {
    const one = validateInstance(manifest, body.features, 'features');
    if (!one.ok) return { ok: false, problems: [...problems, ...one.problems] };
    return problems.length > 0 ? { ok: false, problems } : { ok: true, form: 'features', rows: [one.values] };
  }
  const instances = body.instances;
  // A batch too large is refused before any instance is looked at (one problem, not one per instance).
  const shape = !Array.isArray(instances)
    ? `expected array, got ${typeName(instances)}`
    : instances.length === 0
      ? 'must not be empty'
      : instances.length > max
        ? `at most ${max} instances per request, got ${instances.length}`
        : undefined;
  if (shape !== undefined || !Array.isArray(instances))
    return { ok: false, problems: [...problems, { path: 'instances', message: shape ?? '' }] };
  const rows: FeatureValues[] = [];
  instances.forEach((instance, i) => {
    const one = validateInstance(manifest, instance, `instances[${i}]`);
    if (one.ok) rows.push(one.values);
    else problems.push(...one.problems);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, form: 'instances', rows };
}

/**
 * The float32 tensor [N, F] the graph receives, columns in `inputs` order: numbers standardised as
 * (x − mean) / std unless the graph does it itself (`embedded`), booleans 1/0, strings one-hot.
 * Rows must come from validateInstance; a missing or mistyped value is a programming error and throws.
 */
export function toTensor(
  manifest: Manifest,
  rows: readonly FeatureValues[],
): { data: Float32Array; dims: [number, number] } {
  const width = featureWidth(manifest);
  const data = new Float32Array(rows.length * width);
  const { embedded, standardize, one_hot } = manifest.preprocessing;
  rows.forEach((row, r) => {
    let c = r * width;
    for (const input of manifest.inputs) {
      const value = row[input.name];
      if (input.type === 'string') {
        const list = one_hot[input.name] ?? [];
        if (typeof value !== 'string') throw new TypeError(`toTensor: row ${r} has no string ${input.name}`);
        const hot = list.indexOf(value);
        if (hot >= 0) data[c + hot] = 1;
        c += list.length;
      } else if (input.type === 'boolean') {
        if (typeof value !== 'boolean')
          throw new TypeError(`toTensor: row ${r} has no boolean ${input.name}`);
        data[c++] = value ? 1 : 0;
      } else {
        if (typeof value !== 'number') throw new TypeError(`toTensor: row ${r} has no number ${input.name}`);
        const s = embedded ? undefined : standardize[input.name];
        data[c++] = s ? (value - s.mean) / s.std : value;
      }
    }
  });
  return { data, dims: [rows.length, width] };
}
