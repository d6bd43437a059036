export * from './alerts.js';
export * from './baselines.js';
export * from './drift-results.js';
export * from './model-versions.js';
export * from './pending-events.js';
export * from './records.js';
export * from './rejections.js';
export * from './serving.js';
