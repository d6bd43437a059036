import type { AppDeps } from '../context.js';
import type { UiSessionRow } from '../store/index.js';

// Web UI sessions as the store keeps them: the SHA-256 of the cookie's id, the token's name and
// fingerprint, and the session's CSRF token. Cookies and the role lookup stay with the UI (ui/session.ts).

/** The session stored under the id hash, when it exists and has not expired. */
export async function findSession(
  deps: Pick<AppDeps, 'store' | 'clock'>,
  idHash: string,
): Promise<UiSessionRow | undefined> {
  return deps.store.read((tx) => tx.uiSessions.get(idHash, deps.clock()));
}

/** Stores a new session; expired ones are dropped first, so the table holds about the live sessions. */
export async function startSession(deps: Pick<AppDeps, 'store'>, row: UiSessionRow): Promise<void> {
  await deps.store.tx(async (tx) => {
    await tx.uiSessions.purgeExpired(row.createdAt);
    await tx.uiSessions.insert(row);
  });
}

export async function endSession(deps: Pick<AppDeps, 'store'>, idHash: string): Promise<void> {
  await deps.store.tx((tx) => tx.uiSessions.delete(idHash));
}
