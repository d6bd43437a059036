#!/usr/bin/env node
// Thin launcher so `npx driftwatch` works from a clone: the compiled CLI lives in dist/ (built by `npm ci` via prepare).
import '../dist/main.js';
