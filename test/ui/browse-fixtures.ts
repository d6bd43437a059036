// Re-exports for the UI tests, from the alert tests' helpers (model m, tokens, a JSON client).
import { FIXED_NOW } from '../support.js';

export { AUTH_CONFIG, Client, hour, type MApp, MIN, setupM, TOKENS } from '../alerts/helpers.js';

/** FIXED_NOW plus some minutes. */
export const FIXED_NOW_PLUS = (minutes: number) => FIXED_NOW + minutes * 60_000;
