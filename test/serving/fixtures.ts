import type { ManifestInput } from '../../src/serving/manifest.js';

/** The contract's example manifest (weather, classification), as JSON would give it. */
export function weatherManifest(): ManifestInput & Record<string, unknown> {
  return {
    name: 'weather',
    version: '1',
    created_at: '2026-11-30T12:00:00Z',
    training_data: {
      sha256: 'a'.repeat(64),
      rows: 1096,
      source: 'vega-datasets seattle-weather.csv, 2012-01-01..2013-12-31',
    },
    code_commit: '0820874',
    inputs: [
      { name: 'precipitation', type: 'number', required: true, range: [0, 100] },
      { name: 'temp_max', type: 'number', required: true, range: [-30, 50] },
      {
        name: 'season',
        type: 'string',
        required: false,
        categories: ['winter', 'spring', 'summer', 'autumn'],
        default: 'winter',
      },
      { name: 'holiday', type: 'boolean', required: false, default: false },
      { name: 'count', type: 'integer', required: false, default: 0, range: [0, 1000] },
    ],
    preprocessing: {
      embedded: false,
      standardize: { precipitation: { mean: 3.0, std: 6.6 }, temp_max: { mean: 16.4, std: 7.3 } },
      one_hot: { season: ['winter', 'spring', 'summer', 'autumn'] },
    },
    onnx: { input: 'input' },
    output: {
      kind: 'classification',
      labels: ['drizzle', 'fog', 'rain', 'snow', 'sun'],
      probabilities: 'probabilities',
    },
    metrics: { accuracy: 0.81, log_loss: 0.52 },
    changelog: 'First version: multinomial logistic regression on 2012–2013.',
  };
}

/** A regression manifest with an embedded standardisation. */
export function rentManifest(): ManifestInput & Record<string, unknown> {
  return {
    name: 'rent',
    version: '2026.1',
    created_at: '2026-11-30T12:00:00+01:00',
    training_data: { sha256: 'b'.repeat(64), rows: 500, source: 'synthetic' },
    code_commit: 'abc',
    inputs: [
      { name: 'area', type: 'number', required: true },
      { name: 'rooms', type: 'integer', required: true, range: [1, 10] },
    ],
    preprocessing: { embedded: true, standardize: { area: { mean: 70, std: 20 } } },
    output: { kind: 'regression', value: 'value' },
  };
}
