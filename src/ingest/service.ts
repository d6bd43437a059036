import { AggregateBatch } from '../aggregates/service.js';
import type { AppDeps } from '../context.js';
import type { FieldProblem } from '../errors.js';
import type { NewRejection as StoredRejection, Tx, TxOptions } from '../store/index.js';
import type { ParsedBatch } from './body.js';
import { fastValidate } from './fast-path.js';
import { type IngestRecord, validateRecord } from './record.js';

interface NewRejection extends Omit<StoredRejection, 'errors'> {
  errors: FieldProblem[];
}

export interface RejectedRecord {
  index?: number;
  line?: number;
  errors: FieldProblem[];
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: RejectedRecord[];
}

/** Records stored and aggregated between two yields to the event loop (30–45 ms of work with 20 features). */
const SLICE = 3_000;
/** Records per slice when the caller asked for short slices (`interleave`): well under a millisecond each. */
const SHORT_SLICE = 100;
/** Records per transaction: a COMMIT of 8000 records (about 4 MB of WAL) takes a few ms of fsync. */
const TX_RECORDS = 8_000;
/** Validation gives the event loop a turn after this long. */
const YIELD_AFTER_MS = 10;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function stringField(raw: unknown, key: string): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const v = (raw as Record<string, unknown>)[key];
  return typeof v === 'string' ? v.slice(0, 256) : null;
}

/** A rejected value's text when the text as sent is unavailable; a deeply nested one cannot be re-serialised. */
function reserialised(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '(not kept: the value could not be re-serialised)';
  }
}

/**
 * Validates a parsed batch and stores it in one transaction: valid records (first occurrence of each
 * (model, request_id) wins), and every rejected record with its reasons and raw text.
 */
export async function ingestBatch(
  deps: Pick<AppDeps, 'store' | 'config' | 'clock' | 'metrics'>,
  batch: ParsedBatch,
  ingestRequestId: string,
  options: {
    /**
     * Runs in the (last) transaction that stores the records, so what it writes commits with them or not
     * at all (the KServe sink deletes the pending half it joined here).
     */
    alsoInTransaction?: (tx: Tx) => Promise<void>;
    /** The commits' durability (see TxOptions): `deferred` for records written behind, never acknowledged. */
    durability?: TxOptions['durability'];
    /**
     * Gives the event loop a turn between every step of the transaction (insert, aggregate, write, bump)
     * and every SHORT_SLICE records, for work written behind a latency-sensitive path: the store is
     * synchronous on SQLite, so an unbroken flush holds every request that arrives meanwhile.
     */
    interleave?: boolean;
  } = {},
): Promise<IngestResult> {
  const receivedAt = deps.clock();
  const prefix = batch.positionKind === 'index' ? 'records' : 'line';
  const valid: IngestRecord[] = [];
  const rejections: NewRejection[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const duplicateModels: string[] = [];

  // Validation yields only when it has run for a while, so small batches pay nothing for it.
  let checked = 0;
  let lastYield = performance.now();
  for (const item of batch.items) {
    if ((++checked & 511) === 0 && performance.now() - lastYield > YIELD_AFTER_MS) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
    if (item.syntaxError !== undefined) {
      rejections.push({
        positionKind: batch.positionKind,
        position: item.position,
        model: item.model ?? null,
        requestId: item.requestId ?? null,
        errors: [{ path: `${prefix}[${item.position}]`, message: item.syntaxError }],
        raw: item.raw,
      });
      continue;
    }
    const fast = fastValidate(item.value, receivedAt, batch.fromJsonParse === true);
    const v = fast
      ? ({ ok: true, record: fast } as const)
      : validateRecord(item.value, `${prefix}[${item.position}]`, receivedAt);
    if (!v.ok) {
      rejections.push({
        positionKind: batch.positionKind,
        position: item.position,
        model: stringField(item.value, 'model'),
        requestId: stringField(item.value, 'request_id'),
        errors: v.problems,
        // The text as sent: the NDJSON line, or the array element's slice of the body.
        raw: item.raw ?? batch.rawText?.(item.position) ?? reserialised(item.value),
      });
      continue;
    }
    const key = `${v.record.model}\u0000${v.record.requestId}`;
    if (seen.has(key)) {
      duplicates++;
      duplicateModels.push(v.record.model);
      continue;
    }
    seen.add(key);
    valid.push(v.record);
  }

  // Records are committed TX_RECORDS at a time (one transaction for any usual batch), each transaction
  // worked in slices: between slices the event loop serves health checks and parses other requests, and
  // no single COMMIT (an fsync of everything written) of a huge request holds it for long. The response
  // comes only after every part is committed; a crash midway leaves some parts stored, and the client's
  // retry stores the rest (what is already stored counts as duplicates).
  const interleave = options.interleave === true;
  const slice = interleave ? SHORT_SLICE : SLICE;
  const step = interleave ? yieldToEventLoop : undefined;
  const inserted: IngestRecord[] = [];
  for (let start = 0; start === 0 || start < valid.length; start += TX_RECORDS) {
    const part = valid.length <= TX_RECORDS ? valid : valid.slice(start, start + TX_RECORDS);
    const last = start + TX_RECORDS >= valid.length;
    const fresh = await deps.store.tx(
      async (tx) => {
        const stored: IngestRecord[] = [];
        const aggregates = await AggregateBatch.open(tx, deps, new Set(part.map((r) => r.model)));
        await step?.();
        for (let i = 0; i < part.length; i += slice) {
          const done = await tx.records.insert(
            i === 0 && part.length <= slice ? part : part.slice(i, i + slice),
            receivedAt,
          );
          await step?.();
          aggregates.add(done);
          for (const r of done) stored.push(r);
          if (i + slice < part.length) await yieldToEventLoop();
        }
        await step?.();
        await aggregates.write(tx, receivedAt);
        await step?.();
        await tx.models.bump(stored, receivedAt);
        if (last) {
          await tx.records.insertRejections(
            rejections.map((r) => ({ ...r, errors: JSON.stringify(r.errors) })),
            receivedAt,
            ingestRequestId,
          );
          await options.alsoInTransaction?.(tx);
        }
        return stored;
      },
      options.durability === undefined ? {} : { durability: options.durability },
    );
    for (const r of fresh) inserted.push(r);
    if (!last) await yieldToEventLoop();
  }
  if (deps.metrics) countOutcomes(deps.metrics, valid, inserted, duplicateModels, rejections);

  return {
    accepted: inserted.length,
    duplicates: duplicates + (valid.length - inserted.length),
    rejected: rejections.map((r) => ({
      ...(r.positionKind === 'index' ? { index: r.position } : { line: r.position }),
      errors: r.errors,
    })),
  };
}

/** Per-model outcome counts of one batch, and the newly stored records' status and latency. */
function countOutcomes(
  metrics: NonNullable<AppDeps['metrics']>,
  valid: readonly IngestRecord[],
  inserted: readonly IngestRecord[],
  duplicateModels: readonly string[],
  rejections: readonly NewRejection[],
): void {
  const add = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
  const accepted = new Map<string, number>();
  const duplicate = new Map<string, number>();
  const rejected = new Map<string | null, number>();
  for (const r of inserted) add(accepted, r.model);
  // Valid records not inserted were already stored: duplicates, like those repeated within the batch.
  if (valid.length !== inserted.length) {
    for (const r of valid) add(duplicate, r.model);
    for (const [model, n] of accepted) add(duplicate, model, -n);
    for (const [model, n] of duplicate) if (n === 0) duplicate.delete(model);
  }
  for (const model of duplicateModels) add(duplicate, model);
  for (const r of rejections) add(rejected, r.model);
  metrics.ingested({ accepted, duplicate, rejected });
  metrics.logged(inserted);
}

export interface RejectionView {
  id: number;
  received_at: string;
  ingest_request_id: string;
  model: string | null;
  request_id: string | null;
  index?: number;
  line?: number;
  errors: FieldProblem[];
  raw: string;
}

/** Stored rejections, newest first; `before` is an id cursor for paging. */
export async function listRejections(
  deps: Pick<AppDeps, 'store'>,
  query: { model?: string | undefined; limit: number; before?: number | undefined },
): Promise<RejectionView[]> {
  const rows = await deps.store.read((tx) => tx.records.rejections(query));
  return rows.map((r) => ({
    id: r.id,
    received_at: new Date(r.receivedAt).toISOString(),
    ingest_request_id: r.ingestRequestId,
    model: r.model,
    request_id: r.requestId,
    ...(r.positionKind === 'index' ? { index: r.position } : { line: r.position }),
    errors: JSON.parse(r.errors) as FieldProblem[],
    raw: r.raw,
  }));
}
