import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { syncRules } from "../../src/rules/sync.ts";
import { applyPartitionedRun, evaluatePartition, partitionBounds } from "../../src/runs/partitioned-run.ts";
import { loadValidRules, reconcileEntities } from "../../src/runs/runner.ts";
import { deliveryOptions } from "../../src/webhooks/deliveries.ts";
import { drainOutbox } from "../../src/webhooks/drain.ts";
import { backendUnavailable } from "../helpers/db.ts";
import { startReceiver } from "../helpers/webhook-receiver.ts";
import { AS_OF, until, useWebhookWorkspace } from "../helpers/webhooks.ts";

describe.skipIf(backendUnavailable())(
  "webhook deliveries from every path, filtered, apart per subscription",
  () => {
    const w = useWebhookWorkspace();

    it("writes deliveries for a re-evaluation of a few entities and for a tags file", async () => {
      await w.subscribe();
      const rules = await loadValidRules(w.dir);
      await reconcileEntities(w.t.database.db, rules, "user", ["u3", "u5"], {
        asOf: new Date(AS_OF),
        timezone: "UTC",
        trigger: "event",
        removalGuard: 0.5,
      });
      const file = path.join(w.dir, "tags.csv");
      fs.writeFileSync(file, "user_id,tag##gold\nu1,yes\nu2,yes\n");
      const imported = await w.cli("import", "tags", file);
      expect(imported.code, imported.stderr).toBe(0);
      await w.deliverAll();
      expect(w.seen()).toEqual(
        [
          "tag.added u3 veteran rule:veterans",
          "tag.added u5 veteran rule:veterans",
          "tag.added u1 gold file",
          "tag.added u2 gold file",
        ].sort(),
      );
    });

    it("writes deliveries for a partitioned run, once, when its partitions are applied", async () => {
      await w.subscribe("--source", "rule:veterans");
      const [loaded] = await loadValidRules(w.dir);
      await syncRules(w.t.database.db, [loaded!], { complete: true });
      const opts = { asOf: new Date(AS_OF), timezone: "UTC", trigger: "manual" as const, removalGuard: 0.5 };
      const { bounds } = await partitionBounds(w.t.database.db, "user", opts.asOf, 3);
      const runKey = "run-1.veterans";
      for (const [i, through] of bounds.entries()) {
        await evaluatePartition(w.t.database.db, loaded!, opts, {
          runKey,
          partition: i,
          after: i === 0 ? null : bounds[i - 1]!,
          through,
        });
      }
      // Evaluating partitions writes no tag event, so no delivery: applying them does.
      expect(await w.count()).toBe(0);
      const applied = await applyPartitionedRun(w.t.database.db, loaded!, { ...opts, runKey }, bounds.length);
      expect(applied).toMatchObject({ status: "applied", added: 8 });
      await applyPartitionedRun(w.t.database.db, loaded!, { ...opts, runKey }, bounds.length);
      expect(await w.count()).toBe(8);
      await w.deliverAll();
      expect(w.seen()).toEqual(
        Array.from({ length: 8 }, (_, i) => `tag.added u${i + 1} veteran rule:veterans`).sort(),
      );
    });

    it("keeps sending to one subscription while another's receiver does not answer", async () => {
      const stuck = await startReceiver();
      try {
        let release: () => void = () => {};
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        stuck.answer = async () => {
          await held;
          return 200;
        };
        const slow = await w.cli("webhooks", "add", "--url", stuck.url, "--max-in-flight", "2");
        stuck.secret = /^secret (\S+)$/m.exec(slow.stdout)![1]!;
        const fast = await w.subscribe();
        expect((await w.cli("run", "--as-of", AS_OF)).code).toBe(0);
        const controller = new AbortController();
        const opts = { ...deliveryOptions(loadConfig(w.env())), pollMs: 10 };
        const running = drainOutbox(w.t.database.db, opts, { signal: controller.signal });
        try {
          // Recorded as delivered, not only received: nothing of it waits for the stuck receiver.
          await until(
            "the other subscription's deliveries",
            async () => (await w.count(sql`subscription_id = ${fast} and status = 'delivered'`)) === 8,
          );
          expect(w.rx.delivered()).toHaveLength(8);
          // The stuck receiver holds at most its max_in_flight requests; the rest of its deliveries wait.
          expect(stuck.arrived.length).toBeLessThanOrEqual(2);
          release();
          await until("the stuck subscription's deliveries", async () => stuck.delivered().length === 8);
        } finally {
          release();
          controller.abort();
          await running;
        }
        expect(stuck.requests.every((r) => r.verified)).toBe(true);
      } finally {
        await stuck.close();
      }
    });

    it("filters by event, tag, entity type and source", async () => {
      const onlyVip = await w.subscribe(
        "--tag",
        "VIP",
        "--event",
        "tag.added",
        "--type",
        "user",
        "--source",
        "manual",
      );
      expect((await w.cli("tag", "add", "user", "u1", "vip")).code).toBe(0);
      expect((await w.cli("tag", "remove", "user", "u1", "vip")).code).toBe(0);
      expect((await w.cli("tag", "add", "user", "u2", "other")).code).toBe(0);
      expect((await w.cli("run", "--as-of", AS_OF)).code).toBe(0);
      expect(await w.count()).toBe(1);
      expect(
        await w.count(sql`subscription_id = ${onlyVip} and type = 'tag.added' and entity_id = 'u1'`),
      ).toBe(1);
    });
  },
);
