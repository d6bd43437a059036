import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  rmSync,
  statSync,
  type WriteStream,
  writeFileSync,
} from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Transform } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { maxBatchRequestsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import type { FieldProblem } from '../errors.js';
import { IngestBatcher } from '../ingest/in-process.js';
import { eventTime } from '../ingest/record.js';
import { type FeatureValues, toTensor, validateInstance } from '../serving/features.js';
import type { Manifest } from '../serving/manifest.js';
import {
  type OutputTensor,
  type Prediction,
  predictionAnswer,
  predictionForLog,
  toPredictions,
} from '../serving/outputs.js';
import { freshPrivateDir, PrivateDirError } from '../serving/private-files.js';
import { ModelRunner } from '../serving/runner/index.js';
import type { ServedVersionRow } from '../store/index.js';

// Batch scoring: a CSV or NDJSON file through one served version, row by row, never the whole file in
// memory. The same contract as predict: each row is checked by validateInstance (its problems go to the
// rejects file, never guessed at), scored by a model process on the version's artifact from the store, and
// logged into monitoring through the in-process ingest path. This runs in its own process against the
// database (the CLI opens the store itself); see `driftwatch score --help` for SQLite's one writer.

type Deps = Pick<AppDeps, 'store' | 'clock' | 'log' | 'config'>;

export type ScoreFormat = 'csv' | 'ndjson';

export const DEFAULT_SCORE_BATCH = 500;
export const MAX_SCORE_BATCH = 10_000;
/** A batch gets at least this long in the model process (online deadlines are tuned for one request). */
const MIN_BATCH_DEADLINE_MS = 60_000;
/** Reject reasons kept in the summary (the rejects file has them all). */
const SUMMARY_REJECTS = 5;

export interface ScoreOptions {
  model: string;
  /** A stored version to score with; default the active one. */
  version?: string | undefined;
  input: string;
  output: string;
  /** Where rows that fail validation go (NDJSON); without it they are only counted. */
  rejects?: string | undefined;
  /** Valid rows sent to the model at once (default 500). */
  batchSize?: number | undefined;
  /** Log every scored row into monitoring (default true). */
  log?: boolean | undefined;
  /** A pass-through for the input's bytes, given the file size (the CLI's progress bar). */
  progress?: ((size: number) => Transform) | undefined;
}

export interface RejectLine {
  row?: number;
  line?: number;
  errors: FieldProblem[];
  raw: unknown;
}

export interface ScoreSummary {
  model: string;
  model_version: string;
  input: string;
  output: string;
  rejects: string | null;
  /** Rows read from the input (scored + rejected). */
  rows: number;
  scored: number;
  rejected: number;
  /** Records stored in monitoring (0 with log off). */
  logged: number;
  /** Records monitoring already had (the same file scored by the same version before). */
  log_duplicates: number;
  /** Records monitoring refused (kept in its rejections) or could not write. */
  log_failed: number;
  /** The request id prefix of the logged records, null with log off. */
  request_id_prefix: string | null;
  ms: number;
  first_rejects: RejectLine[];
}

/** A fatal problem: the model is not served, a file cannot be read or written, the model failed. */
export class ScoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScoreError';
  }
}

export function scoreFormat(path: string): ScoreFormat | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  return undefined;
}

/** The version to score with: the named one, else the one the store says is active. */
export async function scoringVersion(deps: Deps, model: string, version?: string): Promise<ServedVersionRow> {
  const versions = await deps.store.read((tx) => tx.serving.list(model));
  if (versions.length === 0)
    throw new ScoreError(`model ${model} is not served (the store has no version of it)`);
  const usable = versions.filter((v) => v.state !== 'retired').map((v) => v.version);
  if (version === undefined) {
    const active = versions.find((v) => v.state === 'active');
    if (!active)
      throw new ScoreError(
        `model ${model} has no active version (stored: ${usable.join(', ') || 'none'}); pass --model-version`,
      );
    return active;
  }
  const row = versions.find((v) => v.version === version);
  if (!row) throw new ScoreError(`model ${model} has no version ${version} (stored: ${usable.join(', ')})`);
  if (row.state === 'retired') throw new ScoreError(`version ${version} of model ${model} is retired`);
  return row;
}

// ---- reading -------------------------------------------------------------------------------------------

interface InputRow {
  /** CSV: the data record's number after the header; NDJSON: the line number. */
  n: number;
  /** What the row said, for the rejects file: cells by column (CSV), the parsed line, or its text. */
  raw: unknown;
  /** The CSV cells in header order, echoed into CSV output. */
  cells?: string[];
  problem?: string;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * CSV has no types: a cell becomes what the input's type says, when it says it losslessly. "" is no value
 * (the default, or "missing (required)"); a cell that is not a number or true/false stays a string, so
 * validateInstance refuses it with the usual message. Columns that are not inputs are kept as they are.
 */
export function typedCsvRow(manifest: Manifest, cells: Record<string, string>): Record<string, unknown> {
  const specs = new Map(manifest.inputs.map((i) => [i.name, i]));
  const out: Record<string, unknown> = {};
  for (const [column, text] of Object.entries(cells)) {
    const spec = specs.get(column);
    if (!spec) {
      if (column === 'timestamp' && text === '') continue;
      out[column] = column === 'timestamp' && /^\d+$/.test(text.trim()) ? Number(text) : text;
      continue;
    }
    if (text === '') continue;
    if (spec.type === 'number' || spec.type === 'integer') {
      out[column] = DECIMAL.test(text.trim()) ? Number(text) : text;
    } else if (spec.type === 'boolean') {
      const lower = text.trim().toLowerCase();
      out[column] = lower === 'true' ? true : lower === 'false' ? false : text;
    } else out[column] = text;
  }
  return out;
}

async function* csvRows(
  stream: Readable,
  manifest: Manifest,
  onHeader: (header: string[]) => void,
): AsyncGenerator<InputRow & { typed?: Record<string, unknown> }> {
  const parser = stream.pipe(parseCsv({ bom: true, skip_empty_lines: true, relax_column_count: true }));
  stream.once('error', (err) => parser.destroy(err));
  let header: string[] | undefined;
  let n = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (!header) {
        header = record;
        onHeader(header);
        continue;
      }
      n++;
      const cells: Record<string, string> = {};
      header.forEach((name, i) => {
        cells[name] = record[i] ?? '';
      });
      if (record.length !== header.length) {
        yield {
          n,
          raw: record.length > header.length ? record : cells,
          problem: `has ${record.length} fields, the header has ${header.length}`,
        };
        continue;
      }
      yield { n, raw: cells, cells: record, typed: typedCsvRow(manifest, cells) };
    }
  } catch (err) {
    if (err instanceof ScoreError) throw err;
    throw new ScoreError(`input CSV: ${(err as Error).message}`);
  }
  if (!header) onHeader([]);
}

async function* ndjsonRows(stream: Readable): AsyncGenerator<InputRow & { typed?: unknown }> {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      yield { n, raw: text, problem: 'not valid JSON' };
      continue;
    }
    yield { n, raw: parsed, typed: parsed };
  }
}

// ---- writing -------------------------------------------------------------------------------------------

async function openWriter(path: string, what: string): Promise<WriteStream> {
  const stream = createWriteStream(path);
  try {
    await once(stream, 'ready');
  } catch (err) {
    throw new ScoreError(`cannot write ${what} ${path}: ${(err as Error).message}`);
  }
  return stream;
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function end(stream: WriteStream): Promise<void> {
  stream.end();
  if (!stream.closed) await once(stream, 'close');
}

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const csvLine = (cells: readonly unknown[]) => `${cells.map(csvCell).join(',')}\n`;

// ---- scoring -------------------------------------------------------------------------------------------

interface Pending {
  n: number;
  values: FeatureValues;
  timestamp: number | undefined;
  /** The CSV cells as read, echoed into CSV output from a CSV input. */
  cells: string[] | undefined;
  /** The row as an object (CSV cells typed), echoed into NDJSON output. */
  object: Record<string, unknown>;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Scores `input` into `output` with one version of `model`; rows that fail validation go to `rejects`.
 * Throws ScoreError on what stops the run (model not served, a file unreadable, the model failing); a file
 * with rejected rows is a run that succeeded.
 */
export async function scoreFile(deps: Deps, options: ScoreOptions): Promise<ScoreSummary> {
  const started = performance.now();
  const inFormat = scoreFormat(options.input);
  const outFormat = scoreFormat(options.output);
  if (!inFormat)
    throw new ScoreError(
      `--input must end in .csv, .ndjson or .jsonl to tell its format, got ${options.input}`,
    );
  if (!outFormat)
    throw new ScoreError(
      `--output must end in .csv, .ndjson or .jsonl to tell its format, got ${options.output}`,
    );
  if (options.rejects !== undefined && scoreFormat(options.rejects) !== 'ndjson')
    throw new ScoreError(`--rejects is written as NDJSON: name it .ndjson or .jsonl, got ${options.rejects}`);
  const paths = [options.input, options.output, options.rejects]
    .filter((p) => p !== undefined)
    .map((p) => resolve(p));
  if (new Set(paths).size !== paths.length)
    throw new ScoreError('--input, --output and --rejects must be three different files');
  const batchSize = options.batchSize ?? DEFAULT_SCORE_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_SCORE_BATCH)
    throw new ScoreError(`--batch must be an integer from 1 to ${MAX_SCORE_BATCH}, got ${batchSize}`);
  let size: number;
  try {
    const stat = statSync(options.input);
    if (!stat.isFile()) throw new Error('not a file');
    size = stat.size;
  } catch (err) {
    throw new ScoreError(`cannot read --input ${options.input}: ${(err as Error).message}`);
  }

  const row = await scoringVersion(deps, options.model, options.version);
  const manifest = JSON.parse(row.manifest) as Manifest;
  const labels = manifest.output.kind === 'classification' ? manifest.output.labels : [];
  const outColumns = ['prediction', ...labels.map((l) => `p_${l}`)];
  const inputNames = manifest.inputs.map((i) => i.name);
  const clash = inputNames.filter(
    (n) => outColumns.includes(n) || (outFormat === 'ndjson' && n === 'probabilities'),
  );
  if (clash.length > 0)
    throw new ScoreError(
      `input(s) ${clash.join(', ')} of model ${row.model} clash with the output's columns`,
    );
  const takesTimestamp = !inputNames.includes('timestamp');

  const logging = options.log !== false;
  const prefix = logging ? `batch-${(await fileSha256(options.input)).slice(0, 16)}` : null;

  const bytes = await deps.store.read((tx) => tx.serving.artifact(row.model, row.version));
  if (!bytes) throw new ScoreError(`the artifact of model ${row.model} version ${row.version} is not stored`);
  // A directory of this run's own (mkdtemp, 0700) and a file created exclusively in it: no name in the
  // shared temp directory that another user could plant a symlink at. Removed when the run ends (a model
  // process restarted after a deadline reads the file again).
  let modelDir: string;
  try {
    modelDir = freshPrivateDir('driftwatch-score-');
  } catch (err) {
    if (err instanceof PrivateDirError) throw new ScoreError(err.message);
    throw err;
  }
  const configured = deps.config.serving.models[row.model]?.deadlineMs ?? deps.config.serving.deadlineMs;
  const deadlineMs = Math.max(configured, MIN_BATCH_DEADLINE_MS);
  let runner: ModelRunner;
  try {
    const modelPath = join(modelDir, 'model.onnx');
    writeFileSync(modelPath, bytes, { flag: 'wx', mode: 0o600 });
    runner = await ModelRunner.start({
      modelPath,
      name: row.model,
      version: row.version,
      threads: deps.config.serving.threads,
      batch: maxBatchRequestsFor(deps.config, row.model),
      log: deps.log,
    });
  } catch (err) {
    rmSync(modelDir, { recursive: true, force: true });
    throw new ScoreError((err as Error).message);
  }

  const batcher = logging ? new IngestBatcher(deps, { maxRecords: 1000, maxDelayMs: 50 }) : null;
  const writers: WriteStream[] = [];
  const summary: ScoreSummary = {
    model: row.model,
    model_version: row.version,
    input: options.input,
    output: options.output,
    rejects: options.rejects ?? null,
    rows: 0,
    scored: 0,
    rejected: 0,
    logged: 0,
    log_duplicates: 0,
    log_failed: 0,
    request_id_prefix: prefix,
    ms: 0,
    first_rejects: [],
  };
  try {
    const out = await openWriter(options.output, '--output');
    writers.push(out);
    const rejects = options.rejects === undefined ? null : await openWriter(options.rejects, '--rejects');
    if (rejects) writers.push(rejects);

    const word = inFormat === 'csv' ? 'row' : 'line';
    // CSV output repeats the input's columns (a CSV input's header, else the model's inputs).
    let csvHeader: string[] | null = null;
    const startCsvOutput = async (columns: string[]) => {
      if (outFormat !== 'csv' || csvHeader) return;
      csvHeader = columns;
      await write(out, csvLine([...columns, ...outColumns]));
    };

    const reject = async (n: number, errors: FieldProblem[], raw: unknown) => {
      summary.rejected++;
      const line: RejectLine = word === 'row' ? { row: n, errors, raw } : { line: n, errors, raw };
      if (summary.first_rejects.length < SUMMARY_REJECTS) summary.first_rejects.push(line);
      if (rejects) await write(rejects, `${JSON.stringify(line)}\n`);
    };

    let pending: Pending[] = [];
    const submit = async (record: unknown) => {
      if (!batcher) return;
      while (!batcher.submit(record)) await batcher.flush();
    };
    const runBatch = async () => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      const tensor = toTensor(
        manifest,
        batch.map((p) => p.values),
      );
      const at = deps.clock();
      const t0 = performance.now();
      let predictions: Prediction[];
      try {
        const outputs = await runner.run(
          { [manifest.onnx.input]: { type: 'float32', data: tensor.data, dims: tensor.dims } },
          deadlineMs,
        );
        const numeric: Record<string, OutputTensor> = {};
        for (const [name, o] of Object.entries(outputs)) {
          if (o.type !== 'string') numeric[name] = o as OutputTensor;
        }
        predictions = toPredictions(manifest, numeric, batch.length);
      } catch (err) {
        const message = (err as Error).message;
        // As predict does: the rows the model failed on are logged with status error.
        for (const p of batch) {
          await submit({
            ...recordBase(p, at, performance.now() - t0),
            status: 'error',
            error: message.slice(0, 1000),
          });
        }
        const first = batch[0]?.n;
        const last = batch[batch.length - 1]?.n;
        throw new ScoreError(
          `model ${row.model} version ${row.version} failed on ${word}s ${first}–${last}: ${message} (${summary.scored} rows were scored before; ${options.output} holds them)`,
        );
      }
      const latency = performance.now() - t0;
      for (const [i, p] of batch.entries()) {
        const prediction = predictions[i] as Prediction;
        if (outFormat === 'csv') {
          const echo = p.cells ?? inputNames.map((name) => p.values[name]);
          const probs = 'label' in prediction ? labels.map((l) => prediction.probabilities[l]) : [];
          await write(out, csvLine([...echo, predictionAnswer(prediction), ...probs]));
        } else {
          await write(
            out,
            `${JSON.stringify({
              ...p.object,
              prediction: predictionAnswer(prediction),
              ...('label' in prediction ? { probabilities: prediction.probabilities } : {}),
            })}\n`,
          );
        }
        summary.scored++;
        await submit({
          ...recordBase(p, at, latency),
          prediction: predictionForLog(prediction),
          status: 'ok',
        });
      }
    };
    const recordBase = (p: Pending, at: number, latency: number) => ({
      model: row.model,
      model_version: row.version,
      // The version is part of the id: the same file scored by another version is logged again.
      request_id: `${prefix}-${p.n}@${row.version}`,
      timestamp: p.timestamp ?? at,
      features: p.values,
      latency_ms: latency,
      tags: { source: 'batch' },
    });

    const file = createReadStream(options.input);
    let source: Readable = file;
    if (options.progress) {
      const bar = options.progress(size);
      file.once('error', (err) => bar.destroy(err));
      source = file.pipe(bar);
    }
    const rows =
      inFormat === 'csv'
        ? csvRows(source, manifest, (header) => {
            const seen = new Set<string>();
            for (const name of header) {
              if (seen.has(name))
                throw new ScoreError(`input CSV: column "${name}" appears twice in the header`);
              seen.add(name);
            }
            const unknown = header.filter(
              (c) => !inputNames.includes(c) && !(takesTimestamp && c === 'timestamp'),
            );
            if (unknown.length > 0)
              throw new ScoreError(
                `input CSV: column(s) ${unknown.join(', ')} are not inputs of model ${row.model} version ${row.version} (its inputs: ${inputNames.join(', ')}${takesTimestamp ? '; an optional timestamp column is the event time' : ''})`,
              );
            // Synchronous up to its write: the header is the output's first line.
            void startCsvOutput(header.length > 0 ? header : inputNames);
          })
        : ndjsonRows(source);

    // An NDJSON input's rows have no header to repeat: CSV output has the model's inputs as its columns.
    if (inFormat === 'ndjson') await startCsvOutput(inputNames);
    for await (const item of rows) {
      summary.rows++;
      const at = `${word} ${item.n}`;
      if (item.problem !== undefined) {
        await reject(item.n, [{ path: at, message: item.problem }], item.raw);
        continue;
      }
      const typed = item.typed;
      const problems: FieldProblem[] = [];
      let timestamp: number | undefined;
      let features: unknown = typed;
      if (takesTimestamp && typeof typed === 'object' && typed !== null && !Array.isArray(typed)) {
        const { timestamp: given, ...rest } = typed as Record<string, unknown>;
        features = rest;
        if (given !== undefined && given !== null) {
          const ms =
            typeof given === 'number' || typeof given === 'string'
              ? eventTime(given)
              : 'expected RFC 3339 string or epoch milliseconds';
          if (typeof ms === 'string') problems.push({ path: `${at}.timestamp`, message: ms });
          else timestamp = ms;
        }
      }
      const checked = validateInstance(manifest, features, at);
      if (!checked.ok) problems.push(...checked.problems);
      if (problems.length > 0 || !checked.ok) {
        await reject(item.n, problems, item.raw);
        continue;
      }
      pending.push({
        n: item.n,
        values: checked.values,
        timestamp,
        cells: item.cells,
        object: typed as Record<string, unknown>,
      });
      if (pending.length >= batchSize) await runBatch();
    }
    await runBatch();
    await startCsvOutput(inputNames); // an empty CSV input still gives a CSV with its header
    for (const w of writers) await end(w);
  } finally {
    for (const w of writers) if (!w.closed) w.destroy();
    await runner.close();
    rmSync(modelDir, { recursive: true, force: true });
    if (batcher) {
      await batcher.close();
      summary.logged = batcher.stats.accepted;
      summary.log_duplicates = batcher.stats.duplicates;
      summary.log_failed = batcher.stats.rejected + batcher.stats.failed;
    }
  }
  summary.ms = performance.now() - started;
  return summary;
}
