import type { Hono } from 'hono';
import type { UiEnv } from '../kit.js';

export function registerServingPages(_ui: Hono<UiEnv>): void {}
