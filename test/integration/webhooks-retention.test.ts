import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { rows } from "../../src/db/client.ts";
import { deliveryOptions, webhookFigures } from "../../src/webhooks/deliveries.ts";
import { drainOutbox } from "../../src/webhooks/drain.ts";
import { backendUnavailable } from "../helpers/db.ts";
import { AS_OF, useWebhookWorkspace } from "../helpers/webhooks.ts";

describe.skipIf(backendUnavailable())("webhook delivery retention", () => {
  const w = useWebhookWorkspace();

  /** Sets one entity's delivery to a state, with its times `days` days ago. */
  async function age(entity: string, set: string, days: number) {
    await w.t.database.db.execute(
      sql`update webhook_deliveries d set ${sql.raw(set.replaceAll("AGO", `clock_timestamp() - interval '${days} days'`))}
          from tag_events e where e.id = d.tag_event_id and e.entity_id = ${entity}`,
    );
  }

  const remaining = async () =>
    (
      await rows<{ entity_id: string; status: string }>(
        w.t.database.db,
        sql`select e.entity_id, d.status from webhook_deliveries d join tag_events e on e.id = d.tag_event_id
            order by e.entity_id`,
      )
    ).map((r) => `${r.entity_id} ${r.status}`);

  /** One drain of the outbox, as a worker's job or serve runs it, with this environment's retention. */
  async function drainOnce(env: Record<string, string>) {
    const opts = deliveryOptions(loadConfig({ ...w.env(), ...env }));
    // Every drain prunes (not at most every 5 minutes), one row per statement: the passes are bounded batches.
    opts.retention = { ...opts.retention!, everyMs: 0, batch: 1 };
    await drainOutbox(w.t.database.db, opts, { signal: new AbortController().signal, untilIdleMs: 50 });
  }

  it("deletes delivered rows after the kept days and failed ones after theirs, in batches, never pending ones, leaving the figures of what is kept", async () => {
    await w.subscribe();
    expect((await w.cli("run", "--as-of", AS_OF)).code).toBe(0);
    await w.deliverAll();
    expect(await w.count(sql`status = 'delivered'`)).toBe(8);

    for (const u of ["u1", "u2", "u3"]) await age(u, "delivered_at = AGO", 8);
    await age("u4", "delivered_at = AGO", 6);
    await age("u5", "status = 'failed', created_at = AGO", 31);
    await age("u6", "status = 'failed', created_at = AGO", 29);
    // Pending for 40 days and not due for an hour: never deleted, and not sent by the drains below.
    await age(
      "u7",
      "status = 'pending', created_at = AGO, next_attempt_at = clock_timestamp() + interval '1 hour'",
      40,
    );
    const before = await webhookFigures(w.t.database.db);
    expect(before[0]).toMatchObject({ pending: 1, failed: 2 });

    // Kept longer by the settings: nothing goes.
    await drainOnce({ SIGNALTAG_WEBHOOK_KEEP_DELIVERED_DAYS: "10", SIGNALTAG_WEBHOOK_KEEP_FAILED_DAYS: "0" });
    expect(await w.count()).toBe(8);

    // The defaults: 7 days for delivered rows, 30 for failed ones.
    await drainOnce({});
    expect(await remaining()).toEqual(["u4 delivered", "u6 failed", "u7 pending", "u8 delivered"]);
    const after = await webhookFigures(w.t.database.db);
    expect(after[0]).toMatchObject({ pending: 1, failed: 1 });
    expect(after[0]!.oldestPendingSeconds).toBeGreaterThanOrEqual(before[0]!.oldestPendingSeconds!);
    expect(w.rx.requests).toHaveLength(8);
  });
});
