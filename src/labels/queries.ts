import type { Database } from '../db/client.js';
import { prepared } from '../db/statements.js';

export interface LabelTarget {
  id: number;
  model_version: string;
  ts: number;
  prediction: string | null;
  label: string | null;
}

export function findLabelTarget(db: Database, model: string, requestId: string): LabelTarget | undefined {
  return prepared(db, 'SELECT id, model_version, ts, prediction, label FROM records WHERE model = ? AND request_id = ?').get(
    model,
    requestId,
  ) as LabelTarget | undefined;
}

export function setLabel(db: Database, recordId: number, label: string | null): void {
  prepared(db, 'UPDATE records SET label = ? WHERE id = ?').run(label, recordId);
}
