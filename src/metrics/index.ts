export {
  MAX_FEATURE_LABELS,
  MAX_MODEL_LABELS,
  MAX_VERSION_LABELS,
  Metrics,
  OTHER,
  VERSION,
} from './metrics.js';
export { metricsRoutes } from './routes.js';
