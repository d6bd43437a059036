import type { Hono } from 'hono';
import type { UiEnv } from '../kit.js';

export function registerAlertPages(_ui: Hono<UiEnv>): void {}
