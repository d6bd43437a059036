import type { Hono } from 'hono';
import type { UiEnv } from '../kit.js';

export function registerRetrainPages(_ui: Hono<UiEnv>): void {}
