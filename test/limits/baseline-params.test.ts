import { afterEach, describe, expect, it } from 'vitest';
import { baselineDetail, postBaseline } from '../drift/helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

// A column named in an upload parameter that the data does not have is refused, naming the parameter and
// the column: a misspelt exclude would otherwise profile an id column as a feature without a word.

let t: TestApp | undefined;
afterEach(() => t?.close());

const CSV = 'customer_id,age,plan,churned\n1,30,pro,0\n2,41,free,1\n3,25,pro,0\n';

function app(): TestApp {
  t = makeTestApp();
  return t;
}

async function baselineCount(a: TestApp): Promise<number> {
  const [row] = await a.sql<{ n: number }>('SELECT count(*) AS n FROM baselines');
  return row?.n ?? 0;
}

describe('upload parameters naming columns', () => {
  it.each([
    ['exclude', 'custmer_id'],
    ['numeric', 'agee'],
    ['categorical', 'plann'],
    ['label', 'churn'],
    ['prediction', 'score'],
  ])(
    'a misspelt %s is a 400 naming the parameter and the column, and nothing is stored',
    async (param, column) => {
      const a = app();
      const res = await postBaseline(a.app, 'm', CSV, 'text/csv', { [param]: column });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({
        code: 'invalid_body',
        message: `${param}: column "${column}" is not in the training data`,
        details: { problems: [{ path: param, message: `column "${column}" is not in the training data` }] },
      });
      expect(await baselineCount(a)).toBe(0);
    },
  );

  it('lists every unknown column at once', async () => {
    const a = app();
    const res = await postBaseline(a.app, 'm', CSV, 'text/csv', {
      exclude: 'customer_id,custmer',
      numeric: 'age,agee',
      label: 'churn',
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toBe(
      'label: column "churn" is not in the training data; numeric: column "agee" is not in the training data; exclude: column "custmer" is not in the training data',
    );
  });

  it('a correctly spelt exclude and label leave those columns out of the profile', async () => {
    const a = app();
    const res = await postBaseline(a.app, 'm', CSV, 'text/csv', {
      exclude: 'customer_id',
      label: 'churned',
      numeric: 'age',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const detail = await baselineDetail(a.app, 'm', res.body.id);
    expect(detail.columns.map((c) => c.name).sort()).toEqual(['age', 'plan']);
  });

  it('an excluded column that appears only in later NDJSON rows counts as present', async () => {
    const a = app();
    const rows = [{ x: 1 }, { x: 2 }, { x: 3, debug_id: 'abc' }].map((r) => JSON.stringify(r)).join('\n');
    const res = await postBaseline(a.app, 'm', rows, 'application/x-ndjson', { exclude: 'debug_id' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect((await baselineDetail(a.app, 'm', res.body.id)).columns.map((c) => c.name)).toEqual(['x']);
  });
});
