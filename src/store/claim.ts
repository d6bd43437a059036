/**
 * How long a claim on work (the delivery run, a report run being sent) lasts without renewal. Short, so
 * that work a crashed holder left is resumed within the leader's failover time, not after the longest
 * run the work could take.
 */
export const CLAIM_TTL_MS = 10_000;
/** How often a live holder renews its claim while it works (several renewals fit in one CLAIM_TTL_MS). */
export const CLAIM_RENEW_MS = 2_500;

/** A claim kept alive while its holder works; see keepClaimed. */
export interface ClaimHeartbeat {
  /** True once a renewal found the claim taken or could not reach the store: start no further work. */
  lost(): boolean;
  /** Stops renewing; resolves after a renewal in progress has finished. */
  stop(): Promise<void>;
}

/**
 * Renews a claim every `everyMs` until stopped, one renewal at a time, so a holder that is alive keeps its
 * claim however long the work takes, and one that dies frees it within the claim's TTL. `renew` answers
 * whether the claim is still this holder's; false or a failure marks it lost (reported through `onLost`).
 */
export function keepClaimed(
  renew: () => Promise<boolean>,
  onLost: (err: unknown) => void,
  everyMs = CLAIM_RENEW_MS,
): ClaimHeartbeat {
  let lost = false;
  let stopped = false;
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running || lost || stopped) return;
    running = renew()
      .then(
        (held) => {
          if (!held && !stopped) {
            lost = true;
            onLost(undefined);
          }
        },
        (err: unknown) => {
          if (stopped) return;
          lost = true;
          onLost(err);
        },
      )
      .finally(() => {
        running = null;
      });
  }, everyMs);
  timer.unref();
  return {
    lost: () => lost,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
