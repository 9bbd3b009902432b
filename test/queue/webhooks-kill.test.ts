import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest, waitFor } from "../helpers/queue.ts";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.ts";
import { addAccount, addUser, rulesDir } from "../helpers/workspace.ts";

const AS_OF = "2026-03-01T12:00:00Z";
const USERS = 20;

describe.skipIf(queueUnavailable())("webhook delivery when a worker is killed", () => {
  const t = useTestDatabase();
  const q = useQueueTest();
  const dir = rulesDir([
    {
      id: "everyone",
      name: "Everyone",
      tag: "everyone",
      target: "user",
      enabled: true,
      conditions: { all: [{ fact: "daysSinceCreated", operator: "greaterThanInclusive", value: 0 }] },
    },
  ]);
  // A short timeout makes the dead worker's leases expire within seconds.
  const extra = { SIGNALTAG_RULES_DIR: dir, SIGNALTAG_WEBHOOK_TIMEOUT_MS: "1000" };
  let rx: Receiver;

  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx.close();
  });

  it("delivers every tag event at least once after kill -9 mid-delivery, duplicates with the same webhook-id", async () => {
    await addAccount(t.database, { id: "acc-1" });
    for (let i = 1; i <= USERS; i++) await addUser(t.database, { id: `u${i}`, accountId: "acc-1" });
    const add = await runCli(t.database, ["webhooks", "add", "--url", rx.url], extra);
    rx.secret = /^secret (\S+)$/m.exec(add.stdout)![1]!;
    // Requests are held open until the first worker is dead: it dies mid-delivery.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let killed = false;
    rx.answer = async () => {
      if (!killed) await held;
      return 200;
    };

    const first = await q.spawnWorker(t.url!, extra);
    expect((await runCli(t.database, ["run", "--as-of", AS_OF], extra)).code).toBe(0);
    await waitFor("a delivery to reach the receiver", () => rx.arrived.length > 0, { intervalMs: 5 });
    first.process.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    killed = true;
    release();

    const second = await q.spawnWorker(t.url!, extra);
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
    expect((await second.stop()).code).toBe(0);

    expect(rx.requests.every((r) => r.verified)).toBe(true);
    const byEvent = new Map<number, Set<string>>();
    for (const r of rx.delivered()) {
      const ids = byEvent.get(r.body.data.tagEventId!) ?? new Set<string>();
      ids.add(r.id);
      byEvent.set(r.body.data.tagEventId!, ids);
    }
    const events = await rows<{ id: number }>(
      t.database.db,
      sql`select id::int as id from tag_events order by id`,
    );
    expect(events).toHaveLength(USERS);
    expect([...byEvent.keys()].sort((a, b) => a - b)).toEqual(events.map((e) => e.id));
    // A duplicate is the same message: one webhook-id per tag event.
    expect([...byEvent.values()].every((ids) => ids.size === 1)).toBe(true);
    // The requests in flight when the worker died were sent again.
    expect(rx.delivered().length).toBeGreaterThan(USERS);
  });
});
