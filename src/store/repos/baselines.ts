import { bytewise, insertInto, type Sql, selectList, setList } from '../sql.js';
import type {
  ActivationRow,
  ActiveColumnRow,
  BaselineColumnRow,
  BaselineRow,
  BaselineStore,
} from '../types.js';
import { activations, baselines } from './tables.js';

const BASELINE = selectList(baselines);
const ACTIVATION = selectList(activations);

/**
 * Key of the PostgreSQL advisory lock that orders a model's baseline activations against its ingest
 * transactions (PgRecords.insert takes it shared). SQLite runs one transaction at a time.
 */
export const ACTIVATION_LOCK = "hashtext('dw.activation:' || ?)";

// SQLite keeps booleans as 0/1.
const fromRow = (r: BaselineRow): BaselineRow => ({ ...r, active: Boolean(r.active) });

export class Baselines implements BaselineStore {
  constructor(private readonly db: Sql) {}

  async insert(
    row: Omit<BaselineRow, 'id' | 'activatedAt' | 'performance'> & { performance?: string | null },
    columns: readonly BaselineColumnRow[],
  ): Promise<BaselineRow> {
    const ins = insertInto(baselines, row);
    const inserted = await this.db.one<BaselineRow>(`${ins.text} RETURNING ${BASELINE}`, ins.params);
    if (!inserted) throw new Error('baseline insert returned no row');
    for (const col of columns) {
      await this.db.run(
        'INSERT INTO baseline_columns (baseline_id, role, name, profile) VALUES (?, ?, ?, ?)',
        [inserted.id, col.role, col.name, col.profile],
      );
    }
    return fromRow(inserted);
  }

  async list(model: string): Promise<BaselineRow[]> {
    const rows = await this.db.rows<BaselineRow>(
      `SELECT ${BASELINE} FROM baselines WHERE model = ? ORDER BY id DESC`,
      [model],
    );
    return rows.map(fromRow);
  }

  async get(model: string, id: number): Promise<BaselineRow | undefined> {
    const row = await this.db.one<BaselineRow>(
      `SELECT ${BASELINE} FROM baselines WHERE model = ? AND id = ?`,
      [model, id],
    );
    return row && fromRow(row);
  }

  async columns(id: number): Promise<BaselineColumnRow[]> {
    return this.db.rows('SELECT role, name, profile FROM baseline_columns WHERE baseline_id = ?', [id]);
  }

  async hasActive(model: string, modelVersion: string): Promise<boolean> {
    const row = await this.db.one(
      'SELECT id FROM baselines WHERE model = ? AND model_version = ? AND active LIMIT 1',
      [model, modelVersion],
    );
    return row !== undefined;
  }

  async markActive(row: BaselineRow, now: number): Promise<void> {
    // On PostgreSQL this waits for the model's ingest transactions in flight (they hold this lock shared from
    // their first insert), so the activation's rebuild horizon (records.maxId) covers every record aggregated
    // against the old baseline, and later ingest sees the new one.
    if (this.db.dialect === 'postgres')
      await this.db.rows(`SELECT pg_advisory_xact_lock(${ACTIVATION_LOCK})`, [row.model]);
    const off = setList(baselines, { active: false, activatedAt: null });
    await this.db.run(`UPDATE baselines SET ${off.text} WHERE model = ? AND model_version = ? AND id <> ?`, [
      ...off.params,
      row.model,
      row.modelVersion,
      row.id,
    ]);
    const on = setList(baselines, { active: true, activatedAt: now });
    await this.db.run(`UPDATE baselines SET ${on.text} WHERE id = ?`, [...on.params, row.id]);
  }

  async activeStamp(model: string): Promise<string> {
    if (this.db.dialect === 'postgres')
      await this.db.rows(`SELECT pg_advisory_xact_lock_shared(${ACTIVATION_LOCK})`, [model]);
    const row = await this.db.one<{ n: number; at: number; id: number }>(
      'SELECT count(*) AS n, coalesce(max(activated_at), 0) AS at, coalesce(max(id), 0) AS id FROM baselines WHERE model = ? AND active',
      [model],
    );
    return `${row?.n}:${row?.at}:${row?.id}`;
  }

  async activeColumns(model: string): Promise<ActiveColumnRow[]> {
    return this.db.rows(
      `SELECT b.id AS "baselineId", b.model_version AS "modelVersion", c.role, c.name, c.profile FROM baselines b
       JOIN baseline_columns c ON c.baseline_id = b.id
       WHERE b.model = ? AND b.active ORDER BY b.activated_at DESC, b.id DESC`,
      [model],
    );
  }

  async featureNames(model: string): Promise<string[]> {
    return this.names(model, '');
  }

  async activeFeatureNames(model: string): Promise<string[]> {
    return this.names(model, ' AND b.active');
  }

  private async names(model: string, andActive: string): Promise<string[]> {
    const rows = await this.db.rows<{ name: string }>(
      `SELECT DISTINCT c.name${bytewise(this.db)} AS name FROM baseline_columns c JOIN baselines b ON b.id = c.baseline_id
       WHERE b.model = ?${andActive} AND c.role = 'feature' ORDER BY 1`,
      [model],
    );
    return rows.map((r) => r.name);
  }

  async beginActivation(row: ActivationRow): Promise<boolean> {
    const ins = insertInto(activations, row);
    return (
      (await this.db.rows(`${ins.text} ON CONFLICT DO NOTHING RETURNING model`, ins.params)).length === 1
    );
  }

  async activation(model: string, options: { lock?: boolean } = {}): Promise<ActivationRow | undefined> {
    // SQLite runs one transaction at a time: there is nothing to lock.
    const lock = options.lock && this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
    return this.db.one(`SELECT ${ACTIVATION} FROM activations WHERE model = ?${lock}`, [model]);
  }

  async activations(): Promise<ActivationRow[]> {
    return this.db.rows(`SELECT ${ACTIVATION} FROM activations ORDER BY started_at`);
  }

  async advanceActivation(
    model: string,
    from: number,
    to: number,
    done: number,
    now: number,
  ): Promise<boolean> {
    const changed = await this.db.run(
      'UPDATE activations SET cursor = ?, done = done + ?, updated_at = ? WHERE model = ? AND cursor = ?',
      [to, done, now, model, from],
    );
    return changed === 1;
  }

  async finishActivation(model: string): Promise<void> {
    await this.db.run('DELETE FROM activations WHERE model = ?', [model]);
  }
}
