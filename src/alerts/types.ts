// The alert shapes live in src/views.ts, shared with notifications and the UI without importing alerts/.
export type * from '../views.js';
