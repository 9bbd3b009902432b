import type { Db, DbOrTx } from "../db/client.ts";
import { nextAttemptAt, type RetryPolicy } from "./backoff.ts";
import { type SendResult, sendDelivery } from "./send.ts";
import {
  type AttemptOutcome,
  disableGone,
  type LeasedDelivery,
  leaseDue,
  pruneDeliveries,
  recordOutcomes,
} from "./sql/deliveries.ts";
import { processThrottles, type Throttles } from "./throttle.ts";

export interface DeliveryOptions {
  /** A request with no answer after this long is retried. */
  timeoutMs: number;
  policy: RetryPolicy;
  /** Deliveries one lease takes at most. */
  batch?: number;
  /** Pause between looks at an outbox that had nothing due. */
  pollMs?: number;
  log?: (line: string) => void;
  /** For tests of the jitter; Math.random otherwise. */
  random?: () => number;
  /** What is kept of delivered and failed rows; without it, nothing is deleted. */
  retention?: Retention;
}

export interface Retention {
  /** Days a delivered row is kept after delivery; 0 keeps it for ever. */
  keepDeliveredDays: number;
  /** Days a failed row is kept after it was written or last replayed; 0 keeps it for ever. */
  keepFailedDays: number;
  /** A process prunes at most this often (ms; 5 minutes by default). */
  everyMs?: number;
  /** Rows one delete statement takes at most (1,000 by default). */
  batch?: number;
}

const PRUNE_EVERY_MS = 5 * 60_000;
/** Statements one pass runs at most: a pass that still has rows to delete after them comes back soon. */
const PRUNE_BATCHES = 20;
/** When each database's outbox was last pruned by this process. */
const lastPruned = new WeakMap<object, number>();

/**
 * Deletes delivered and failed rows past their retention, in statements of a
 * bounded size (each its own transaction, so none holds many row locks or
 * waits long on a drain), at most every `everyMs` per process. Runs when the
 * outbox has nothing due, so a flood's delivery is never slowed by it.
 */
async function pruneIfDue(db: Db, opts: DeliveryOptions): Promise<void> {
  const r = opts.retention;
  if (!r) return;
  const everyMs = r.everyMs ?? PRUNE_EVERY_MS;
  const now = Date.now();
  const last = lastPruned.get(db);
  if (last !== undefined && now - last < everyMs) return;
  lastPruned.set(db, now);
  const limit = r.batch ?? 1000;
  try {
    for (let i = 0; i < PRUNE_BATCHES; i++) {
      const n = await pruneDeliveries(db, { ...r, limit });
      if (n < limit) return;
    }
    // More is left than one pass deletes: the next pass comes after a second, not after everyMs.
    lastPruned.set(db, now - everyMs + 1000);
  } catch (err) {
    // The driver's own words, not the statement's text.
    const e = err as Error & { cause?: Error };
    opts.log?.(`webhook retention: ${e.cause?.message ?? e.message}; trying again later`);
  }
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

/**
 * Sends one subscription's leased deliveries (at most max_in_flight at once)
 * and records their outcomes in one statement. Each subscription's group is
 * recorded as soon as it is done, so a slow receiver holds up only its own.
 */
async function sendGroup(
  db: DbOrTx,
  group: readonly LeasedDelivery[],
  opts: DeliveryOptions,
  throttles: Throttles,
): Promise<void> {
  const outcomes = await Promise.all(
    group.map(async (d) => {
      const throttle = throttles.of(d.subscription_id);
      try {
        await throttle.acquire(d.max_in_flight, d.rate_per_second);
      } catch (err) {
        // The shared rate limit cannot be read (Redis away): not sent, tried again after a backoff.
        const result: SendResult = {
          kind: "retry",
          status: null,
          error: `rate limit unavailable: ${(err as Error).message}`,
        };
        return { d, result };
      }
      let result: SendResult;
      try {
        result = await sendDelivery(d, opts.timeoutMs);
      } finally {
        throttle.release();
      }
      return { d, result };
    }),
  );
  const gone = outcomes.find((o) => o.result.kind === "gone");
  if (gone) {
    await disableGone(
      db,
      gone.d.subscription_id,
      `410 Gone from ${gone.d.url} at ${new Date().toISOString()}`,
    );
    opts.log?.(`webhook subscription ${gone.d.subscription_id} disabled: ${gone.d.url} answered 410 Gone`);
  }
  await recordOutcomes(
    db,
    outcomes.map((o) => outcomeOf(o.d, o.result, opts)),
  );
}

/** Most deliveries one process holds leased at once, whatever the number of subscriptions. */
const MAX_OUTSTANDING = 4_000;

/**
 * Drains the outbox until `signal` aborts, or (with `untilIdleMs`) until
 * nothing has been due for that long. It leases while there is room and
 * does not wait for a round's requests before leasing the next: each
 * subscription's leases are capped in the database, so one that answers
 * slowly fills its own cap and the others go on. Requests in flight finish
 * before it returns; their outcomes are recorded.
 */
export async function drainOutbox(
  db: Db,
  opts: DeliveryOptions,
  p: { signal: AbortSignal; untilIdleMs?: number },
  throttles: Throttles = processThrottles,
): Promise<{ sent: number }> {
  const pollMs = opts.pollMs ?? 200;
  let sent = 0;
  let outstanding = 0;
  let lastBusy = Date.now();
  const groups = new Set<Promise<void>>();
  // Resolved whenever a group finishes: its leases are released, which may make more rows due.
  let wake: () => void = () => {};
  let woken = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const finished = () => {
    const done = wake;
    woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    done();
  };
  const aborted = new Promise<void>((resolve) => {
    if (p.signal.aborted) resolve();
    else p.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  const wait = (ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      woken,
      aborted,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]).finally(() => clearTimeout(timer));
  };

  while (!p.signal.aborted) {
    if (outstanding >= MAX_OUTSTANDING) {
      await wait(pollMs);
      continue;
    }
    let leased: LeasedDelivery[];
    try {
      leased = await leaseDue(db, {
        limit: Math.min(opts.batch ?? 500, MAX_OUTSTANDING - outstanding),
        leaseMs: leaseMs(opts.timeoutMs),
        waves: LEASE_WAVES,
      });
    } catch (err) {
      opts.log?.(`webhook delivery: ${(err as Error).message}; trying again in 1 s`);
      await wait(1000);
      continue;
    }
    if (leased.length === 0) {
      await pruneIfDue(db, opts);
      if (outstanding === 0 && p.untilIdleMs !== undefined && Date.now() - lastBusy >= p.untilIdleMs) break;
      await wait(pollMs);
      continue;
    }
    lastBusy = Date.now();
    sent += leased.length;
    const bySubscription = new Map<number, LeasedDelivery[]>();
    for (const d of leased) {
      const list = bySubscription.get(d.subscription_id) ?? [];
      list.push(d);
      bySubscription.set(d.subscription_id, list);
    }
    for (const group of bySubscription.values()) {
      outstanding += group.length;
      const g: Promise<void> = sendGroup(db, group, opts, throttles)
        .catch((err: Error) => {
          // The rows stay leased until their lease ends, then are sent again with the same webhook-id.
          opts.log?.(`webhook delivery: recording outcomes failed: ${err.message}`);
        })
        .finally(() => {
          outstanding -= group.length;
          groups.delete(g);
          lastBusy = Date.now();
          finished();
        });
      groups.add(g);
    }
  }
  while (groups.size > 0) await Promise.all([...groups]);
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
