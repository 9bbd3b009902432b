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

/**
 * A round leases up to this many times a subscription's max_in_flight and
 * sends them max_in_flight at a time: fewer round trips to the database per
 * delivery, while the receiver never sees more than max_in_flight requests
 * from one process. Two rounds may hold leases at once (one sending while the
 * next leases), so a leased row may wait for 2 * LEASE_WAVES waves.
 */
export const LEASE_WAVES = 8;

/** Long enough that a live worker sends every wave it leased (each bounded by the timeout) before its lease ends. */
export function leaseMs(timeoutMs: number): number {
  return 2 * LEASE_WAVES * timeoutMs + 5_000;
}

/**
 * Per subscription, within this process: at most max_in_flight requests at
 * once, and requests spaced by its rate limit.
 */
class Throttle {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private nextAt = 0;

  async acquire(max: number, perSecond: number | null): Promise<void> {
    if (this.active >= max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    if (perSecond) {
      const now = Date.now();
      const at = Math.max(now, this.nextAt);
      this.nextAt = at + 1000 / perSecond;
      if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
    }
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so `active` stays counted.
    if (next) next();
    else this.active--;
  }
}

/** Throttles by subscription id, shared by every drain of this process. */
export class Throttles {
  private readonly bySubscription = new Map<number, Throttle>();

  of(subscriptionId: number): Throttle {
    let t = this.bySubscription.get(subscriptionId);
    if (!t) {
      t = new Throttle();
      this.bySubscription.set(subscriptionId, t);
    }
    return t;
  }
}

const processThrottles = new Throttles();

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
  throttles: Throttles = processThrottles,
): Promise<AttemptOutcome[]> {
  const outcomes = await Promise.all(
    leased.map(async (d) => {
      const throttle = throttles.of(d.subscription_id);
      await throttle.acquire(d.max_in_flight, d.rate_per_second);
      let result: SendResult;
      try {
        result = await sendDelivery(d, opts.timeoutMs);
      } finally {
        throttle.release();
      }
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
export async function drainRound(db: Db, opts: DeliveryOptions): Promise<number> {
  const leased = await leaseDue(db, {
    limit: opts.batch ?? 500,
    leaseMs: leaseMs(opts.timeoutMs),
    waves: LEASE_WAVES,
  });
  if (leased.length > 0) await sendAll(db, leased, opts);
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
  const pollMs = opts.pollMs ?? 200;
  let sent = 0;
  let lastBusy = Date.now();
  const lane = async () => {
    while (!p.signal.aborted) {
      let n = 0;
      try {
        n = await drainRound(db, opts);
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
  await Promise.all(Array.from({ length: opts.lanes ?? 2 }, lane));
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
