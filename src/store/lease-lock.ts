import type { LeaderLock, Store } from './types.js';

export const LEADER_LEASE = 'leader';

/**
 * Leadership as a lease row with an expiry (works on any store, and through connection poolers): taken
 * when expired, renewed by every `hold`, so a leader that dies is replaced once its lease runs out.
 */
export class LeaseLock implements LeaderLock {
  readonly mechanism = 'lease' as const;

  constructor(
    private readonly store: Store,
    private readonly holderId: string,
    private readonly ttlMs: number,
  ) {}

  hold(now: number): Promise<boolean> {
    return this.store.tx((tx) => tx.leases.acquire(LEADER_LEASE, this.holderId, this.ttlMs, now));
  }

  release(): Promise<void> {
    return this.store.tx((tx) => tx.leases.release(LEADER_LEASE, this.holderId));
  }

  async holder() {
    const lease = await this.store.read((tx) => tx.leases.get(LEADER_LEASE));
    return lease ? { holder: lease.holder, expiresAt: lease.expiresAt } : undefined;
  }
}
