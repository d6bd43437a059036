import { aggregateRecords } from '../aggregates/service.js';
import type { AppDeps } from '../context.js';
import type { FieldProblem } from '../errors.js';
import type { ParsedBatch } from './body.js';
import { bumpModelVersions, insertRecords, insertRejections, type NewRejection } from './queries.js';
import { fastValidate } from './fast-path.js';
import { type IngestRecord, validateRecord } from './record.js';

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
export function ingestBatch(deps: AppDeps, batch: ParsedBatch, ingestRequestId: string): IngestResult {
  const receivedAt = deps.clock();
  const prefix = batch.positionKind === 'index' ? 'records' : 'line';
  const valid: IngestRecord[] = [];
  const rejections: NewRejection[] = [];
  const seen = new Set<string>();
  let duplicates = 0;

  for (const item of batch.items) {
    if (item.syntaxError !== undefined) {
      rejections.push({
        positionKind: batch.positionKind,
        position: item.position,
        model: null,
        requestId: null,
        errors: [{ path: `${prefix}[${item.position}]`, message: item.syntaxError }],
        raw: item.raw,
      });
      continue;
    }
    const fast = fastValidate(item.value, receivedAt);
    const v = fast ? ({ ok: true, record: fast } as const) : validateRecord(item.value, `${prefix}[${item.position}]`, receivedAt);
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
      continue;
    }
    seen.add(key);
    valid.push(v.record);
  }

  const inserted = deps.db.sqlite.transaction(() => {
    const fresh = insertRecords(deps.db, valid, receivedAt);
    bumpModelVersions(deps.db, fresh, receivedAt);
    aggregateRecords(deps, fresh, receivedAt);
    insertRejections(deps.db, rejections, receivedAt, ingestRequestId);
    return fresh;
  })();

  return {
    accepted: inserted.length,
    duplicates: duplicates + (valid.length - inserted.length),
    rejected: rejections.map((r) => ({
      ...(r.positionKind === 'index' ? { index: r.position } : { line: r.position }),
      errors: r.errors,
    })),
  };
}
