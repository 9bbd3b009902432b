import type { Db, DbOrTx } from "../db/client.ts";
import { nextAttemptAt, type RetryPolicy } from "./backoff.ts";
import { type SendResult, sendDelivery } from "./send.ts";
import {
  type AttemptOutcome,
  disableGone,
  type LeasedDelivery,
  leaseDue,
  recordOutcomes,
} from "./sql/deliveries.ts";

export interface DeliveryOptions {
  /** A request with no answer after this long is retried. */
  timeoutMs: number;
  policy: RetryPolicy;
  /** Deliveries one round leases at most. */
  batch?: number;
  /** Rounds running at once in this process; each leases, sends and records on its own. */
  lanes?: number;
  /** Pause between looks at an outbox that had nothing due. */
  pollMs?: number;
  log?: (line: string) => void;
  /** For tests of the jitter; Math.random otherwise. */
  random?: () => number;
}

/** Long enough that a live worker's request (timeout included) always ends before its lease does. */
export function leaseMs(timeoutMs: number): number {
  return 2 * timeoutMs + 5_000;
}

/** Spaces the requests of rate-limited subscriptions within this process. */
export class RateLimiter {
  private readonly next = new Map<number, number>();

  /** Resolves when the subscription may send its next request. */
  async slot(subscriptionId: number, perSecond: number | null): Promise<void> {
    if (!perSecond) return;
    const now = Date.now();
    const at = Math.max(now, this.next.get(subscriptionId) ?? now);
    this.next.set(subscriptionId, at + 1000 / perSecond);
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}

export function outcomeOf(
  d: LeasedDelivery,
  result: SendResult,
  opts: DeliveryOptions,
  now = new Date(),
): AttemptOutcome {
  const base = { id: d.id, attempts: d.attempts, httpStatus: result.status };
  if (result.kind === "delivered") return { ...base, status: "delivered", nextAttemptAt: null, error: null };
  if (result.kind === "gone") {
    return {
      ...base,
      status: "failed",
      nextAttemptAt: null,
      error: "410 Gone: the subscription was disabled",
    };
  }
  const next = nextAttemptAt(opts.policy, {
    attempts: d.attempts,
    createdAt: new Date(d.created_at),
    now,
    random: (opts.random ?? Math.random)(),
  });
  return next
    ? { ...base, status: "pending", nextAttemptAt: next.toISOString(), error: result.error }
    : {
        ...base,
        status: "failed",
        nextAttemptAt: null,
        error: `${result.error} (gave up after ${d.attempts} attempts)`,
      };
}

/** Sends leased deliveries at once and records every outcome in one statement. */
export async function sendAll(
  db: DbOrTx,
  leased: readonly LeasedDelivery[],
  opts: DeliveryOptions,
  limiter: RateLimiter,
): Promise<AttemptOutcome[]> {
  const outcomes = await Promise.all(
    leased.map(async (d) => {
      await limiter.slot(d.subscription_id, d.rate_per_second);
      const result = await sendDelivery(d, opts.timeoutMs);
      if (result.kind === "gone") {
        await disableGone(db, d.subscription_id, `410 Gone from ${d.url} at ${new Date().toISOString()}`);
        opts.log?.(`webhook subscription ${d.subscription_id} disabled: ${d.url} answered 410 Gone`);
      }
      return outcomeOf(d, result, opts);
    }),
  );
  await recordOutcomes(db, outcomes);
  return outcomes;
}

/** One round: lease what is due, send it, record it. Returns how many were sent. */
export async function drainRound(db: Db, opts: DeliveryOptions, limiter: RateLimiter): Promise<number> {
  const leased = await leaseDue(db, { limit: opts.batch ?? 200, leaseMs: leaseMs(opts.timeoutMs) });
  if (leased.length > 0) await sendAll(db, leased, opts, limiter);
  return leased.length;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Drains the outbox until `signal` aborts, or (with `untilIdleMs`) until
 * nothing has been due for that long. Requests in flight finish first; their
 * outcomes are recorded.
 */
export async function drainOutbox(
  db: Db,
  opts: DeliveryOptions,
  p: { signal: AbortSignal; untilIdleMs?: number },
): Promise<{ sent: number }> {
  const limiter = new RateLimiter();
  const pollMs = opts.pollMs ?? 200;
  let sent = 0;
  let lastBusy = Date.now();
  const lane = async () => {
    while (!p.signal.aborted) {
      let n = 0;
      try {
        n = await drainRound(db, opts, limiter);
      } catch (err) {
        opts.log?.(`webhook delivery: ${(err as Error).message}; trying again in 1 s`);
        await pause(1000, p.signal);
        continue;
      }
      sent += n;
      if (n > 0) {
        lastBusy = Date.now();
        continue;
      }
      if (p.untilIdleMs !== undefined && Date.now() - lastBusy >= p.untilIdleMs) return;
      await pause(pollMs, p.signal);
    }
  };
  await Promise.all(Array.from({ length: opts.lanes ?? 4 }, lane));
  return { sent };
}

/** Drains the outbox in this process until stopped (`signaltag serve` without a queue). */
export function startOutboxDrain(db: Db, opts: DeliveryOptions): { stop(): Promise<void> } {
  const controller = new AbortController();
  const running = drainOutbox(db, opts, { signal: controller.signal });
  return {
    async stop() {
      controller.abort();
      await running;
    },
  };
}
