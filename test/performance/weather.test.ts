import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { markdown, weatherPerformance } from '../../scripts/performance-weather.js';
import { REPO_ROOT } from '../server/process.js';

// docs/statistics.md's table of the demo weather model on 2015 (scripts/performance-weather.ts), on three
// months: every figure the API gives equals the one counted from the answers predict returned.

describe('the demo weather model scored on 2015 (docs:performance)', () => {
  it('estimates and realizes per month what the answers and the calibration give directly', async () => {
    const result = await weatherPerformance([1, 2, 10]);
    expect(result.facts).toMatchObject({
      kind: 'multiclass',
      classes: ['drizzle', 'fog', 'rain', 'snow', 'sun'],
      rows: result.trainRows,
    });
    expect(result.trainRows).toBe(1096);
    for (const r of result.months) {
      expect(r.api).toMatchObject({ model_version: '2', kind: 'multiclass', n: r.n, labeled: r.n });
      // Realized: the labels joined to the logged probabilities count the same as the answers' labels.
      expect(r.api.realized).toMatchObject({ accuracy: r.direct.realized, n: r.n });
      // Realized macro F1 over the classes answered or recorded, as counted from the answers.
      expect(r.api.realized?.f1).toBeCloseTo(r.direct.macroF1, 12);
      expect(r.api.realized?.roc_auc).toBeGreaterThan(0.5);
      expect(r.api.estimated.roc_auc).toBeGreaterThan(0.5);
      // Estimated: the mean calibrated probability of the predicted class.
      expect(r.api.estimated.accuracy).toBeCloseTo(r.direct.calibrated, 9);
      expect(r.api.baseline_accuracy).toBe(result.facts.accuracy);
    }
    // The calibration changed the estimate (an isotonic map was chosen on the training set).
    expect(result.facts.method).toBe('isotonic');
    expect(result.months.some((r) => Math.abs(r.direct.calibrated - r.direct.uncalibrated) > 0.01)).toBe(
      true,
    );
    const table = markdown(result);
    expect(table.split('\n')).toHaveLength(2 + 3 + 1 + 1);
    expect(table).toContain(`| 2015-02 | ${result.months[1]?.n} |`);
  });

  it('realizes the accuracy the manifest states for 2015', async () => {
    const { realizedAll, months } = await weatherPerformance();
    expect(months.reduce((n, r) => n + r.n, 0)).toBe(365);
    // manifest.json's metrics: the accuracy on 2015 (held out) the build counted from the float32 model.
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'models/weather/2/manifest.json'), 'utf8')) as {
      metrics: { accuracy: number };
    };
    expect(realizedAll).toBeCloseTo(manifest.metrics.accuracy, 6);
    expect(realizedAll).toBeCloseTo(0.781, 3);
  });
});
