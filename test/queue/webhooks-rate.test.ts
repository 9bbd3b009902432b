import { sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { sharedThrottles } from "../../src/jobs/webhook-rate.ts";
import { deliveryOptions } from "../../src/webhooks/deliveries.ts";
import { drainOutbox } from "../../src/webhooks/drain.ts";
import { Throttles } from "../../src/webhooks/throttle.ts";
import { queueUnavailable, useQueueTest } from "../helpers/queue.ts";
import { AS_OF, until, useWebhookWorkspace } from "../helpers/webhooks.ts";
import { addUser } from "../helpers/workspace.ts";

const USERS = 20;
const RATE = 5;

/** The most requests that arrived within any one second. */
function busiestSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= 1000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

describe.skipIf(queueUnavailable())("a subscription's rate limit, shared by every drain", () => {
  const w = useWebhookWorkspace();
  const q = useQueueTest();

  /**
   * USERS deliveries to one subscription limited to RATE a second, sent by
   * two drains at once, as two processes' would be.
   */
  async function drainWith(throttles: [Throttles, Throttles]): Promise<void> {
    for (let i = 9; i <= USERS; i++) await addUser(w.t.database, { id: `u${i}`, accountId: "acc-1" });
    await w.subscribe("--rate", String(RATE));
    expect((await w.cli("run", "--as-of", AS_OF)).code).toBe(0);
    const controller = new AbortController();
    // One row a lease: the two drains' leases interleave, so both hold rows all along, as two busy processes'
    // would (with bigger leases, the first drain to lease tends to hold the subscription's whole share).
    const opts = { ...deliveryOptions(loadConfig(w.env())), pollMs: 10, batch: 1 };
    const drains = throttles.map((th) =>
      drainOutbox(w.t.database.db, opts, { signal: controller.signal }, th),
    );
    try {
      await until(
        "every delivery to be delivered",
        async () => (await w.count(sql`status = 'delivered'`)) === USERS,
      );
    } finally {
      controller.abort();
      await Promise.all(drains);
    }
    expect(w.rx.requests.every((r) => r.verified)).toBe(true);
    expect(new Set(w.rx.delivered().map((r) => r.body.data.entityId)).size).toBe(USERS);
  }

  it("holds across two drains with their own Redis connections, as on two hosts, and everything arrives", async () => {
    const connections = [new Redis(q.redisUrl), new Redis(q.redisUrl)];
    try {
      await drainWith([
        sharedThrottles(connections[0]!, q.prefix),
        sharedThrottles(connections[1]!, q.prefix),
      ]);
    } finally {
      await Promise.all(connections.map((c) => c.quit()));
    }
    // Starts are spaced 1/RATE s apart across both; one more is allowed for a request that left
    // late (a busy event loop) and so arrives close to the next one.
    expect(busiestSecond(w.rx.arrivedAt)).toBeLessThanOrEqual(RATE + 1);
  });

  it("holds across two drains of one process without Redis (serve), and everything arrives", async () => {
    const shared = new Throttles();
    await drainWith([shared, shared]);
    expect(busiestSecond(w.rx.arrivedAt)).toBeLessThanOrEqual(RATE + 1);
  });
});
