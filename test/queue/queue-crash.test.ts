import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type Database, rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest, waitFor } from "../helpers/queue.ts";
import { powerUsersRule, rulesDir } from "../helpers/workspace.ts";

const asOf = "2026-03-31T12:00:00Z";
const users = "20000";

async function seed(database: Database): Promise<void> {
  const result = await runCli(database, ["seed", "--accounts", "200", "--users", users, "--as-of", asOf], {});
  expect(result.code, result.stderr).toBe(0);
}

/** True while some transaction of this database holds a rule's advisory lock: a reconciliation is under way. */
async function reconciling(database: Database): Promise<boolean> {
  const [row] = await rows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and l.granted and d.datname = current_database()`,
  );
  return (row?.n ?? 0) > 0;
}

async function state(database: Database) {
  const claims = await rows(database.db, sql`select c.entity_id, c.source from claims c order by 1, 2`);
  const events = await rows(
    database.db,
    sql`select entity_id, action, source, membership_changed, rule_version, as_of, explanation
        from tag_events order by entity_id, id`,
  );
  return { claims, events };
}

describe.skipIf(queueUnavailable())("crashes and shutdown", () => {
  const t = useTestDatabase();
  const clean = useTestDatabase();
  const q = useQueueTest();
  const dir = rulesDir([powerUsersRule()]);
  const extra = { SIGNALTAG_RULES_DIR: dir, SIGNALTAG_JOB_LOCK_MS: "2000" };

  it("recovers a run whose worker was killed mid-reconciliation: same state as a clean run, recorded once", async () => {
    await seed(t.database);
    await seed(clean.database);
    const first = await q.spawnWorker(t.url!, extra);
    const waiting = runCli(t.database, ["enqueue", "run", "--as-of", asOf, "--wait", "--json"], {
      ...q.env(t.url!),
      ...extra,
    });
    await waitFor("the reconciliation to start", () => reconciling(t.database), { intervalMs: 5 });
    first.process.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");

    // Its transaction rolled back: nothing of the run is visible.
    await waitFor("the killed worker's transaction to end", async () => !(await reconciling(t.database)));
    expect((await state(t.database)).claims).toEqual([]);
    expect(await rows(t.database.db, sql`select 1 from rule_runs`)).toEqual([]);

    const second = await q.spawnWorker(t.url!, extra);
    const result = await waiting;
    expect(result.code, result.stderr).toBe(0);
    expect(second.output()).toMatch(/run-all \S+ completed/);
    const reference = await runCli(clean.database, ["run", "--as-of", asOf, "--json"], {
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(reference.code).toBe(0);

    const recovered = await state(t.database);
    expect(recovered.claims.length).toBeGreaterThan(100);
    expect(recovered).toEqual(await state(clean.database));
    const duplicates = await rows(
      t.database.db,
      sql`select entity_id from tag_events group by entity_id, action having count(*) > 1`,
    );
    expect(duplicates).toEqual([]);
    const runs = await rows(t.database.db, sql`select rule_id, status, trigger from rule_runs`);
    expect(runs).toEqual([{ rule_id: "power-users", status: "applied", trigger: "manual" }]);
    expect((await second.stop()).code).toBe(0);
  });

  it("finishes the current job on SIGTERM and exits 0 within the deadline", async () => {
    const deadlineMs = 30_000;
    const worker = await q.spawnWorker(t.url!, {
      ...extra,
      SIGNALTAG_SHUTDOWN_TIMEOUT_MS: String(deadlineMs),
    });
    const runsBefore = (await rows(t.database.db, sql`select 1 from rule_runs`)).length;
    const queues = await q.queues();
    const job = await queues.rules.add("run-rule", {
      ruleId: "power-users",
      asOf: "2026-04-20T12:00:00Z",
      force: true,
    });
    await waitFor("the reconciliation to start", () => reconciling(t.database), { intervalMs: 5 });
    const signalled = Date.now();
    worker.process.kill("SIGTERM");
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(deadlineMs);
    expect(worker.output()).toContain("SIGTERM: no new jobs; finishing current ones");
    expect(await (await queues.rules.getJob(job.id!))?.getState()).toBe("completed");
    const runs = await rows<{ status: string }>(t.database.db, sql`select status from rule_runs order by id`);
    expect(runs).toHaveLength(runsBefore + 1);
    expect(runs.at(-1)).toEqual({ status: "applied" });
    await queues.close();
  });
  it("exits at once on a second signal, and a fresh worker finishes the abandoned job", async () => {
    const worker = await q.spawnWorker(t.url!, extra);
    const queues = await q.queues();
    const job = await queues.rules.add("run-rule", {
      ruleId: "power-users",
      asOf: "2026-05-10T12:00:00Z",
      force: true,
    });
    await waitFor("the reconciliation to start", () => reconciling(t.database), { intervalMs: 5 });
    worker.process.kill("SIGTERM");
    await worker.waitForOutput(/SIGTERM: no new jobs/);
    worker.process.kill("SIGINT");
    expect((await worker.exited).code).toBe(130);
    expect(worker.output()).toContain("SIGINT again: exiting now");

    const fresh = await q.spawnWorker(t.url!, extra);
    await waitFor("the abandoned job to complete", async () => (await job.getState()) === "completed", {
      timeoutMs: 60_000,
    });
    const [run] = await rows<{ status: string; as_of: string }>(
      t.database.db,
      sql`select status, to_char(as_of at time zone 'UTC', 'YYYY-MM-DD') as as_of from rule_runs order by id desc limit 1`,
    );
    expect(run).toEqual({ status: "applied", as_of: "2026-05-10" });
    expect((await fresh.stop()).code).toBe(0);
    await queues.close();
  });
});
