export * from './alerts.js';
export * from './baselines.js';
export * from './pending-events.js';
export * from './records.js';
export * from './reports.js';
export * from './serving.js';
export * from './sessions.js';
export * from './traffic.js';
