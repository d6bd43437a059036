import { ApiError, type FieldProblem, formatPath } from '../errors.js';
import { validateInstance } from './features.js';
import type { InputSpec, Manifest } from './manifest.js';
import type { PredictResult } from './predict.js';
import type { LoadedVersion } from './runtime.js';

// The Open Inference Protocol v2 (KServe, Triton) over the same validation and scoring as /v1 predict:
// one tensor per manifest input, shape [N] (or [N, 1]), which become N instances.

const DATATYPES: Record<InputSpec['type'], string[]> = {
  number: ['FP32', 'FP64', 'INT64', 'INT32', 'INT16', 'INT8', 'UINT8', 'UINT16', 'UINT32', 'UINT64'],
  integer: ['INT64', 'INT32', 'INT16', 'INT8', 'UINT8', 'UINT16', 'UINT32', 'UINT64'],
  boolean: ['BOOL'],
  string: ['BYTES'],
};

const datatypeOf = (i: InputSpec) =>
  i.type === 'number' ? 'FP32' : i.type === 'integer' ? 'INT64' : i.type === 'boolean' ? 'BOOL' : 'BYTES';

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function flatten(v: unknown): unknown[] {
  return Array.isArray(v) ? v.flatMap((x) => flatten(x)) : [v];
}

/**
 * Turns an inference request into instances, checked against the manifest here so that every problem
 * names the tensor field the client sent (`inputs[1].data[3]`), not the /v1 body it becomes.
 */
export function fromOipRequest(
  manifest: Manifest,
  raw: unknown,
  options: { maxInstances: number },
): { id: string | undefined; instances: Record<string, unknown>[] } {
  const problems: FieldProblem[] = [];
  if (!isMapping(raw)) throw new ApiError('invalid_input', '(body): expected an inference request object');
  for (const key of Object.keys(raw)) {
    if (!['id', 'parameters', 'inputs', 'outputs'].includes(key))
      problems.push({ path: key, message: 'unknown field' });
  }
  const id = raw.id;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > 200)) {
    problems.push({ path: 'id', message: 'expected a non-empty string of at most 200 characters' });
  }
  const inputs = raw.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) {
    problems.push({ path: 'inputs', message: 'expected a non-empty array of input tensors' });
    throw new ApiError('invalid_input', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
      problems,
    });
  }
  const specs = new Map(manifest.inputs.map((i) => [i.name, i]));
  const columns = new Map<string, unknown[]>();
  let n: number | undefined;
  inputs.forEach((t, k) => {
    const at = `inputs[${k}]`;
    if (!isMapping(t)) {
      problems.push({ path: at, message: 'expected {name, shape, datatype, data}' });
      return;
    }
    const name = t.name;
    const spec = typeof name === 'string' ? specs.get(name) : undefined;
    if (typeof name !== 'string') {
      problems.push({ path: `${at}.name`, message: 'expected string' });
      return;
    }
    if (!spec) {
      problems.push({
        path: `${at}.name`,
        message: `unknown input ${name}; the model takes ${[...specs.keys()].join(', ')}`,
      });
      return;
    }
    if (columns.has(name)) problems.push({ path: `${at}.name`, message: `input ${name} given twice` });
    const shape = t.shape;
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !(shape.length === 1 || (shape.length === 2 && shape[1] === 1))
    ) {
      problems.push({ path: `${at}.shape`, message: 'expected [N] or [N, 1]: one value per instance' });
      return;
    }
    if (typeof t.datatype !== 'string' || !DATATYPES[spec.type].includes(t.datatype)) {
      problems.push({
        path: `${at}.datatype`,
        message: `expected ${DATATYPES[spec.type].join(' or ')} for a ${spec.type} input, got ${JSON.stringify(t.datatype)}`,
      });
      return;
    }
    const data = flatten(t.data);
    const count = shape[0] as number;
    if (data.length !== count) {
      problems.push({ path: `${at}.data`, message: `shape says ${count} values, data has ${data.length}` });
      return;
    }
    if (n !== undefined && count !== n) {
      problems.push({
        path: `${at}.shape`,
        message: `every input must have the same N (${n}), got ${count}`,
      });
      return;
    }
    n = count;
    columns.set(name, data);
  });
  if (problems.length > 0) {
    throw new ApiError('invalid_input', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
      problems,
    });
  }
  const count = n ?? 0;
  if (count === 0 || count > options.maxInstances) {
    problems.push({
      path: 'inputs[0].shape',
      message:
        count === 0
          ? 'N must be at least 1'
          : `at most ${options.maxInstances} instances per request, got ${count}`,
    });
    throw new ApiError('invalid_input', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
      problems,
    });
  }
  const instances = Array.from({ length: count }, (_, i) => {
    const row: Record<string, unknown> = {};
    for (const [name, data] of columns) row[name] = data[i];
    return row;
  });
  // Each value's problem is put at the tensor element it came from; a required input without a tensor
  // is one problem of the request, not one per instance.
  const tensorOf = new Map(
    [...columns.keys()].map((name) => [name, inputs.findIndex((t) => t.name === name)]),
  );
  const inputAt = new Map(manifest.inputs.map((i) => [formatPath('x', [i.name]), i.name]));
  const missing = new Set<string>();
  instances.forEach((row, i) => {
    const checked = validateInstance(manifest, row, 'x');
    if (checked.ok) return;
    for (const p of checked.problems) {
      const name = inputAt.get(p.path);
      const k = name === undefined ? undefined : tensorOf.get(name);
      if (k !== undefined) problems.push({ path: `inputs[${k}].data[${i}]`, message: p.message });
      else if (name !== undefined) missing.add(name);
      else problems.push({ path: 'inputs', message: p.message });
    }
  });
  for (const name of missing) {
    problems.push({ path: 'inputs', message: `no tensor for the required input ${name}` });
  }
  if (problems.length > 0) {
    throw new ApiError('invalid_input', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
      problems,
    });
  }
  return { id: typeof id === 'string' ? id : undefined, instances };
}

function outputsOf(manifest: Manifest) {
  if (manifest.output.kind === 'regression') return [{ name: 'value', datatype: 'FP32', shape: [-1] }];
  return [
    { name: 'label', datatype: 'BYTES', shape: [-1] },
    { name: 'probabilities', datatype: 'FP32', shape: [-1, manifest.output.labels.length] },
  ];
}

export function oipMetadata(v: LoadedVersion, versions: string[]) {
  return {
    name: v.model,
    versions,
    platform: 'onnx_onnxv1',
    inputs: v.manifest.inputs.map((i) => ({ name: i.name, datatype: datatypeOf(i), shape: [-1] })),
    outputs: outputsOf(v.manifest),
  };
}

export function toOipResponse(manifest: Manifest, result: PredictResult, id: string) {
  const n = result.predictions.length;
  const outputs =
    manifest.output.kind === 'regression'
      ? [
          {
            name: 'value',
            datatype: 'FP32',
            shape: [n],
            data: result.predictions.map((p) => ('value' in p ? p.value : null)),
          },
        ]
      : [
          {
            name: 'label',
            datatype: 'BYTES',
            shape: [n],
            data: result.predictions.map((p) => ('label' in p ? p.label : null)),
          },
          {
            name: 'probabilities',
            datatype: 'FP32',
            shape: [n, manifest.output.labels.length],
            data: result.predictions.flatMap((p) =>
              'probabilities' in p && manifest.output.kind === 'classification'
                ? manifest.output.labels.map((l) => p.probabilities[l] ?? 0)
                : [],
            ),
          },
        ];
  return { model_name: result.model, model_version: result.model_version, id, outputs };
}
