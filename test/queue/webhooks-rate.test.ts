import { sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { rows } from "../../src/db/client.ts";
import { sharedThrottles } from "../../src/jobs/webhook-rate.ts";
import { deliveryOptions } from "../../src/webhooks/deliveries.ts";
import { drainOutbox } from "../../src/webhooks/drain.ts";
import { Throttles } from "../../src/webhooks/throttle.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest, waitFor } from "../helpers/queue.ts";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.ts";
import { addAccount, addUser, rulesDir } from "../helpers/workspace.ts";

const AS_OF = "2026-03-01T12:00:00Z";
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
  const t = useTestDatabase();
  const q = useQueueTest();
  const env = {
    SIGNALTAG_RULES_DIR: rulesDir([
      {
        id: "everyone",
        name: "Everyone",
        tag: "everyone",
        target: "user",
        enabled: true,
        conditions: { all: [{ fact: "daysSinceCreated", operator: "greaterThanInclusive", value: 0 }] },
      },
    ]),
  };
  let rx: Receiver;

  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx.close();
  });
  beforeEach(async () => {
    await t.reset();
    await t.database.db.execute(
      sql.raw("truncate webhook_subscriptions, webhook_deliveries restart identity"),
    );
    rx.clear();
    await addAccount(t.database, { id: "acc-1" });
    for (let i = 1; i <= USERS; i++) await addUser(t.database, { id: `u${i}`, accountId: "acc-1" });
    const add = await runCli(t.database, ["webhooks", "add", "--url", rx.url, "--rate", String(RATE)], env);
    expect(add.code, add.stderr).toBe(0);
    rx.secret = /^secret (\S+)$/m.exec(add.stdout)![1]!;
    expect((await runCli(t.database, ["run", "--as-of", AS_OF], env)).code).toBe(0);
  });

  /**
   * Two drains started together, as two processes' would be: each takes a
   * lease of its own at once (SKIP LOCKED), so both send from the start.
   */
  async function drainWith(throttles: [Throttles, Throttles]): Promise<void> {
    const controller = new AbortController();
    const opts = { ...deliveryOptions(loadConfig(env)), pollMs: 10 };
    const drains = throttles.map((th) => drainOutbox(t.database.db, opts, { signal: controller.signal }, th));
    try {
      await waitFor(
        "every delivery to be delivered",
        async () => {
          const [r] = await rows<{ n: number }>(
            t.database.db,
            sql`select count(*)::int as n from webhook_deliveries where status = 'delivered'`,
          );
          return r!.n === USERS;
        },
        { timeoutMs: 60_000 },
      );
    } finally {
      controller.abort();
      await Promise.all(drains);
    }
    expect(rx.requests.every((r) => r.verified)).toBe(true);
    expect(new Set(rx.delivered().map((r) => r.body.data.entityId)).size).toBe(USERS);
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
    expect(busiestSecond(rx.arrivedAt)).toBeLessThanOrEqual(RATE + 1);
  });

  it("holds across two drains of one process without Redis (serve), and everything arrives", async () => {
    const shared = new Throttles();
    await drainWith([shared, shared]);
    expect(busiestSecond(rx.arrivedAt)).toBeLessThanOrEqual(RATE + 1);
  });
});
