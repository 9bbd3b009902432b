import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { syncRules } from "../../src/rules/sync.ts";
import { applyPartitionedRun, evaluatePartition, partitionBounds } from "../../src/runs/partitioned-run.ts";
import { runRule } from "../../src/runs/reconcile.ts";
import { loadValidRules } from "../../src/runs/runner.ts";
import { commonSnapshot } from "../../src/runs/sql/change-log.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import {
  addAccount,
  addActivity,
  addUser,
  countRows,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const asOf = new Date("2026-03-31T12:00:00Z");
const today = "2026-03-31";

describe.skipIf(backendUnavailable())("partitioned rule runs", () => {
  const t = useTestDatabase();
  const opts = { asOf, timezone: "UTC", trigger: "manual" as const, removalGuard: 0.5 };

  beforeEach(async () => {
    await t.reset();
    await t.database.db.execute(sql`delete from run_partition_changes`);
    await t.database.db.execute(sql`delete from run_partitions`);
    await addAccount(t.database, { id: "acc-1" });
    for (let i = 1; i <= 9; i++) {
      const id = `u${i}`;
      await addUser(t.database, { id, accountId: "acc-1" });
      await addActivity(t.database, { userId: id, accountId: "acc-1", days: lastDays(today, i * 3) });
    }
  });

  async function rule() {
    const [loaded] = await loadValidRules(rulesDir([powerUsersRule()]));
    await syncRules(t.database.db, [loaded!], { complete: true });
    return loaded!;
  }

  it("splits the entities into key ranges of at most the partition size", async () => {
    const { total, bounds } = await partitionBounds(t.database.db, "user", asOf, 4);
    expect(total).toBe(9);
    expect(bounds).toEqual(["u4", "u8", null]);
  });

  it("applies the partitions' changes once, as one run, and ends where an inline run would", async () => {
    const loaded = await rule();
    const { bounds } = await partitionBounds(t.database.db, "user", asOf, 4);
    const runKey = "run-1.power-users";
    for (const [i, through] of bounds.entries()) {
      const spec = { runKey, partition: i, after: i === 0 ? null : bounds[i - 1]!, through };
      await evaluatePartition(t.database.db, loaded, opts, spec);
      // A partition run again (its worker died) replaces what it stored.
      if (i === 1) await evaluatePartition(t.database.db, loaded, opts, spec);
    }
    const first = await applyPartitionedRun(t.database.db, loaded, { ...opts, runKey }, bounds.length);
    expect(first).toMatchObject({
      status: "applied",
      evaluated: 9,
      matched: 3,
      added: 3,
      removed: 0,
      partitions: 3,
    });
    const events = await countRows(t.database, "tag_events");
    expect(events).toBe(3);

    const again = await applyPartitionedRun(t.database.db, loaded, { ...opts, runKey }, bounds.length);
    expect(again.runId).toBe(first.runId);
    expect(await countRows(t.database, "tag_events")).toBe(events);
    expect(await countRows(t.database, "rule_runs")).toBe(1);
    expect(await rows(t.database.db, sql`select 1 from run_partition_changes`)).toEqual([]);

    const inline = await runRule(t.database.db, loaded, opts);
    expect(inline).toMatchObject({ status: "applied", matched: 3, added: 0, removed: 0 });
  });

  it("records a run as failed when a partition is missing, and changes nothing", async () => {
    const loaded = await rule();
    const runKey = "run-2.power-users";
    await evaluatePartition(t.database.db, loaded, opts, {
      runKey,
      partition: 0,
      after: null,
      through: "u4",
    });
    const result = await applyPartitionedRun(t.database.db, loaded, { ...opts, runKey }, 2);
    expect(result.status).toBe("failed");
    expect(result.error).toContain("only 1 of 2 partitions");
    expect(await countRows(t.database, "claims")).toBe(0);
  });

  it("returns the recorded run when a run with the same key is run again", async () => {
    const loaded = await rule();
    const first = await runRule(t.database.db, loaded, { ...opts, runKey: "job-7.power-users" });
    const second = await runRule(t.database.db, loaded, { ...opts, runKey: "job-7.power-users" });
    expect(second).toMatchObject({ status: "applied", runId: first.runId, added: first.added });
    expect(await countRows(t.database, "rule_runs")).toBe(1);
  });
  it("starts the rule's next incremental run, which catches a change made while the partitions ran", async () => {
    const loaded = await rule();
    const { bounds } = await partitionBounds(t.database.db, "user", asOf, 4);
    const runKey = "run-2.power-users";
    for (const [i, through] of bounds.entries()) {
      await evaluatePartition(t.database.db, loaded, opts, {
        runKey,
        partition: i,
        after: i === 0 ? null : bounds[i - 1]!,
        through,
      });
      // u2 (in the first partition, already evaluated) becomes a power user while the others run.
      // (Rollups written directly: rebuilding them all truncates, which sends the next run back to a full one.)
      if (i === 0)
        await t.database.db.execute(sql`insert into activity_daily (entity_type, entity_id, day, activity, module, count)
          select 'user', 'u2', ${today}::date - d, 'export', '', 1 from generate_series(0, 24) d`);
    }
    const applied = await applyPartitionedRun(t.database.db, loaded, { ...opts, runKey }, bounds.length);
    expect(applied).toMatchObject({ status: "applied", added: 3 });

    const next = await runRule(t.database.db, loaded, { ...opts, asOf: new Date(asOf.getTime() + 60_000) });
    expect(next).toMatchObject({
      status: "applied",
      incrementalSince: applied.runId,
      added: 1,
      removed: 0,
      matched: 4,
    });
    const [claim] = await rows<{ entity_id: string }>(
      t.database.db,
      sql`select entity_id from tag_events where run_id = ${next.runId!}`,
    );
    expect(claim?.entity_id).toBe("u2");
    // Nothing else was evaluated again: only what changed after the partitions' snapshots.
    expect(next.evaluated).toBe(1);
  });

  it("takes as the run's snapshot one that sees only what every partition's snapshot saw", async () => {
    const [r] = await rows<{ snapshot: string }>(
      t.database.db,
      sql`${commonSnapshot(sql`select s::pg_snapshot as s from (values ('10:20:12,15'), ('11:18:11,12,16'), ('9:30:9,25')) v(s)`)}`,
    );
    // xmin 9, xmax 18, and every transaction below 18 that any snapshot saw in progress.
    expect(r?.snapshot).toBe("9:18:9,11,12,15,16");
  });
});
