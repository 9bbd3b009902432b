/**
 * When a failed delivery is tried again: exponential backoff from `baseMs`
 * (5 s by default: 5 s, 10 s, 20 s ... capped at 2 h), each delay taken at
 * random between half and all of itself so that many deliveries failing
 * together do not come back together. About a day after its first attempt a
 * delivery is given up (failed, kept for replay).
 */
export interface RetryPolicy {
  baseMs: number;
  maxDelayMs: number;
  /** How long after the first attempt a delivery is still retried. */
  giveUpAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseMs: 5_000,
  maxDelayMs: 2 * 3600_000,
  giveUpAfterMs: 24 * 3600_000,
};

/** The delay before attempt `attempts + 1`, after `attempts` failed ones; `random` is in [0, 1). */
export function retryDelayMs(policy: RetryPolicy, attempts: number, random: number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const full = Math.min(policy.baseMs * 2 ** exponent, policy.maxDelayMs);
  return Math.round(full / 2 + (full / 2) * random);
}

/**
 * The next attempt's time, or null when the delivery should be given up:
 * its next attempt would fall past `giveUpAfterMs` from its creation.
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  p: { attempts: number; createdAt: Date; now: Date; random: number },
): Date | null {
  const at = p.now.getTime() + retryDelayMs(policy, p.attempts, p.random);
  if (at - p.createdAt.getTime() > policy.giveUpAfterMs) return null;
  return new Date(at);
}
