import { z } from 'zod';
import { formatPath } from '../errors.js';
import { eventTime } from '../ingest/record.js';
import { SAFE_NAME, SAFE_NAME_RULE } from './names.js';

// manifest.json, the description of one model version in the repository (models/<name>/<version>/).
// Every key is checked, unknown keys are errors, and a bad manifest reports all its problems at once:
// the shape is zod's, the relations between inputs and preprocessing are checked on the raw JSON so a
// type error elsewhere does not hide them.

const safeName = z.string({ error: 'expected string' }).regex(SAFE_NAME, { error: SAFE_NAME_RULE });
const text = z.string({ error: 'expected string' }).min(1, { error: 'must not be empty' });
const finite = z.number({ error: 'expected number' });

const range = z
  .tuple([finite, finite], { error: 'expected [min, max]' })
  .refine(([min, max]) => min <= max, { error: 'min must be ≤ max' });

const inputName = text
  .max(256, { error: 'must be at most 256 characters' })
  // A "__proto__" key would not survive copying into a plain object.
  .refine((v) => v !== '__proto__', { error: 'the name "__proto__" is not allowed' });

const common = { name: inputName, required: z.boolean({ error: 'expected true or false' }) };

const numberInput = z.strictObject({
  ...common,
  type: z.literal('number'),
  range: range.optional(),
  default: finite.optional(),
});
const integerInput = z.strictObject({
  ...common,
  type: z.literal('integer'),
  range: range.optional(),
  default: z.int({ error: 'expected an integer' }).optional(),
});
const stringInput = z.strictObject({
  ...common,
  type: z.literal('string'),
  categories: z
    .array(z.string({ error: 'expected string' }), { error: 'expected an array of strings' })
    .min(1, { error: 'at least 1' })
    .refine(unique, { error: 'categories must be unique' })
    .optional(),
  default: z.string({ error: 'expected string' }).optional(),
});
const booleanInput = z.strictObject({
  ...common,
  type: z.literal('boolean'),
  default: z.boolean({ error: 'expected true or false' }).optional(),
});

function unique(values: readonly string[]): boolean {
  return new Set(values).size === values.length;
}

type AnyInput =
  | z.infer<typeof numberInput>
  | z.infer<typeof integerInput>
  | z.infer<typeof stringInput>
  | z.infer<typeof booleanInput>;

/** Defaults: required exactly for optional inputs, and inside the input's own range or categories. */
function checkDefault(input: AnyInput, ctx: z.RefinementCtx): void {
  const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['default'], message });
  if (input.default === undefined) {
    if (!input.required) issue('required for an optional input');
    return;
  }
  if (input.required) {
    issue('not allowed for a required input (it would never be used)');
    return;
  }
  if ((input.type === 'number' || input.type === 'integer') && input.range) {
    const [min, max] = input.range;
    if (input.default < min || input.default > max)
      issue(`${input.default} is outside the range [${min}, ${max}]`);
  }
  if (input.type === 'string' && input.categories && !input.categories.includes(input.default)) {
    issue(`"${input.default}" is not one of ${input.categories.join(', ')}`);
  }
}

const input = z
  .discriminatedUnion('type', [numberInput, integerInput, stringInput, booleanInput])
  .superRefine(checkDefault);

const standardization = z.strictObject({
  mean: finite,
  std: finite.gt(0, { error: 'std must be > 0' }),
});

const createdAt = z.string({ error: 'expected an RFC 3339 date-time string' }).superRefine((v, ctx) => {
  if (typeof eventTime(v) === 'string')
    ctx.addIssue({
      code: 'custom',
      message: `expected an RFC 3339 date-time such as 2026-11-30T12:00:00Z, got "${v.slice(0, 40)}"`,
    });
});

const classification = z.strictObject({
  kind: z.literal('classification'),
  labels: z
    .array(z.string({ error: 'expected string' }), { error: 'expected an array of strings' })
    .min(2, { error: 'at least 2' })
    .refine(unique, { error: 'labels must be unique' })
    // Labels become keys of the probabilities object, where "__proto__" would not survive.
    .refine((labels) => !labels.includes('__proto__'), { error: 'the label "__proto__" is not allowed' }),
  probabilities: text,
});
const regression = z.strictObject({ kind: z.literal('regression'), value: text });

export const manifestSchema = z.strictObject({
  name: safeName,
  version: safeName,
  created_at: createdAt,
  training_data: z.strictObject({
    sha256: z
      .string({ error: 'expected string' })
      .regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lowercase hex characters' }),
    rows: z.int({ error: 'expected an integer' }).nonnegative({ error: 'must be ≥ 0' }),
    source: text,
  }),
  code_commit: text,
  inputs: z.array(input, { error: 'expected an array of inputs' }).min(1, { error: 'at least 1' }),
  preprocessing: z
    .strictObject({
      // True when the graph standardises itself: raw values are passed (one-hot is always done here).
      embedded: z.boolean({ error: 'expected true or false' }).default(false),
      standardize: z.record(z.string(), standardization, { error: 'expected object' }).default({}),
      one_hot: z
        .record(
          z.string(),
          z
            .array(z.string({ error: 'expected string' }), { error: 'expected an array of strings' })
            .min(1, { error: 'at least 1' })
            .refine(unique, { error: 'categories must be unique' }),
          { error: 'expected object' },
        )
        .default({}),
    })
    .prefault({}),
  onnx: z.strictObject({ input: text.default('input') }).prefault({}),
  output: z.discriminatedUnion('kind', [classification, regression]),
  metrics: z.record(z.string(), finite, { error: 'expected an object of numbers' }).optional(),
  changelog: z.string({ error: 'expected string' }).optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestInput = z.input<typeof manifestSchema>;
export type InputSpec = Manifest['inputs'][number];
export type InputType = InputSpec['type'];

export class ManifestError extends Error {
  constructor(
    readonly where: string,
    readonly problems: string[],
  ) {
    super(`invalid manifest ${where}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ManifestError';
  }
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node = raw;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function schemaProblems(error: z.ZodError, raw: unknown): string[] {
  const problems: string[] = [];
  for (const issue of error.issues) {
    const at = (path: ReadonlyArray<PropertyKey>) => formatPath('', path) || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push(`${at([...issue.path, key])}: unknown key`);
      continue;
    }
    let message = issue.message.replace(/^Invalid input: /, '');
    const value = valueAt(raw, issue.path);
    if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options)) {
      // A discriminator (inputs[i].type, output.kind) that names no variant.
      const options = issue.options.map(String).join(', ');
      message =
        value === undefined
          ? `required (one of ${options})`
          : `expected one of ${options}, got ${JSON.stringify(value)?.slice(0, 40) ?? typeName(value)}`;
    } else if (issue.code === 'invalid_type') {
      const got = typeof value === 'number' ? String(value) : typeName(value);
      message = value === undefined ? 'required' : `${message.replace(/, received \w+$/, '')}, got ${got}`;
    }
    problems.push(`${at(issue.path)}: ${message}`);
  }
  return problems;
}

/**
 * Relations between inputs and preprocessing, on the raw JSON (each relation is checked where both sides
 * are well-formed enough to say): duplicate names, standardize and one_hot naming inputs of the right type,
 * every string input one-hot encoded with its categories, column names unique.
 */
const TYPES: ReadonlySet<unknown> = new Set(['number', 'integer', 'string', 'boolean']);

function relationProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const inputs = Array.isArray(raw.inputs) ? raw.inputs : [];
  const byName = new Map<string, { index: number; type: unknown; categories: unknown }>();
  // With an input unreadable (no name) or no inputs at all, "not an input" would be a guess.
  let allNamed = inputs.length > 0;
  inputs.forEach((entry, index) => {
    if (!isMapping(entry) || typeof entry.name !== 'string') {
      allNamed = false;
      return;
    }
    const first = byName.get(entry.name);
    if (first) {
      problems.push(
        `${formatPath('inputs', [index, 'name'])}: duplicate input name "${entry.name}" (also inputs[${first.index}])`,
      );
      return;
    }
    byName.set(entry.name, { index, type: entry.type, categories: entry.categories });
  });

  const pre = isMapping(raw.preprocessing) ? raw.preprocessing : {};
  const standardize = isMapping(pre.standardize) ? pre.standardize : {};
  const oneHot = isMapping(pre.one_hot) ? pre.one_hot : {};
  for (const name of Object.keys(standardize)) {
    const found = byName.get(name);
    const path = formatPath('preprocessing.standardize', [name]);
    if (!found) {
      if (allNamed) problems.push(`${path}: not an input`);
    } else if (!TYPES.has(found.type)) continue;
    else if (found.type !== 'number' && found.type !== 'integer')
      problems.push(`${path}: not an input of type number or integer`);
  }
  for (const [name, list] of Object.entries(oneHot)) {
    const found = byName.get(name);
    const path = formatPath('preprocessing.one_hot', [name]);
    if (!found) {
      if (allNamed) problems.push(`${path}: not an input`);
    } else if (!TYPES.has(found.type)) continue;
    else if (found.type !== 'string') problems.push(`${path}: not an input of type string`);
    else if (
      Array.isArray(found.categories) &&
      unique(found.categories) &&
      Array.isArray(list) &&
      unique(list)
    ) {
      const cats = new Set(found.categories);
      if (list.length !== cats.size || !list.every((c) => cats.has(c)))
        problems.push(`${path}: must list the same values as inputs[${found.index}].categories`);
    }
  }
  for (const [name, found] of byName) {
    if (found.type === 'string' && !Object.hasOwn(oneHot, name))
      problems.push(
        `inputs[${found.index}]: string input "${name}" needs ${formatPath('preprocessing.one_hot', [name])} (the graph takes floats only)`,
      );
  }
  if (problems.length === 0) {
    // One-hot columns are named name=value; a number input so named would make two columns one name.
    const seen = new Set<string>();
    for (const [name, found] of byName) {
      const list = found.type === 'string' ? oneHot[name] : undefined;
      const columns = Array.isArray(list) ? list.map((c) => `${name}=${String(c)}`) : [name];
      for (const column of columns) {
        if (seen.has(column)) problems.push(`inputs[${found.index}]: column name "${column}" appears twice`);
        seen.add(column);
      }
    }
  }
  return problems;
}

/** Parses a manifest's JSON; `where` names it in the error (its file). Throws ManifestError with every problem. */
export function parseManifest(json: unknown, where: string): Manifest {
  if (!isMapping(json))
    throw new ManifestError(where, [`(top level): expected object, got ${typeName(json)}`]);
  const result = manifestSchema.safeParse(json);
  const problems = [...(result.success ? [] : schemaProblems(result.error, json)), ...relationProblems(json)];
  if (problems.length > 0 || !result.success) throw new ManifestError(where, problems);
  return result.data;
}

/** The categories a string input accepts: its own, else its one-hot list. */
export function categoriesOf(manifest: Manifest, input: InputSpec): readonly string[] | undefined {
  if (input.type !== 'string') return undefined;
  return input.categories ?? manifest.preprocessing.one_hot[input.name];
}

/** F, the width of the feature tensor: one column per number/integer/boolean, one per category per string. */
export function featureWidth(manifest: Manifest): number {
  return columnNames(manifest).length;
}

/** The tensor's columns in order: `precipitation`, …, `season=winter`, `season=spring`, …, `holiday`. */
export function columnNames(manifest: Manifest): string[] {
  return manifest.inputs.flatMap((input) =>
    input.type === 'string'
      ? (manifest.preprocessing.one_hot[input.name] ?? []).map((c) => `${input.name}=${c}`)
      : [input.name],
  );
}
