import { afterEach, expect, it } from 'vitest';
import { hour, type MApp, MIN, setupM, TOKENS } from '../alerts/helpers.js';
import { FIXED_NOW } from '../support.js';
import { browser } from './browser-helper.js';

// Which windows the model page shows: closed buckets, unless they are too small for a verdict while the
// rolling window has one; `?kind=` chooses.

let m: MApp | undefined;
afterEach(async () => {
  await m?.t.close();
  m = undefined;
});

it('shows rolling windows when hourly buckets are too small to judge, and buckets on request', async () => {
  m = await setupM({ drift: { rollingWindow: '6h', minSamples: 100 } }, true);
  // 60 records an hour: each bucket is below minSamples, the 6-hour rolling window is not.
  for (const h of [8, 9, 10]) await m.window(`w${h}`, hour(h), 0.6, undefined, 60);
  await m.tick(FIXED_NOW + 30 * MIN);
  const b = browser(m.t.app);
  await b.signIn(TOKENS.reviewer);
  const byDefault = await b.html('/ui/models/m');
  expect(byDefault).toContain('PSI per feature and rolling window');
  expect(byDefault).toMatch(/<option value="rolling" selected/);
  const buckets = await b.html('/ui/models/m?kind=bucket');
  expect(buckets).toContain('PSI per feature and bucket');
  expect(buckets).toMatch(/<option value="bucket" selected/);
  // An unknown kind is the default choice, not an error.
  expect(await b.html('/ui/models/m?kind=nonsense')).toContain('PSI per feature and rolling window');
});
