export * from './model-versions.js';
export * from './records.js';
export * from './rejections.js';
