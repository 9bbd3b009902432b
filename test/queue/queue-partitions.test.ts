import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type Database, rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest, waitFor } from "../helpers/queue.ts";
import { rulesDir } from "../helpers/workspace.ts";

const asOf = "2026-03-31T12:00:00Z";

/** The shipped rules without their schedules, so nothing but the test's own jobs runs. */
function standardRules(): string {
  const dir = path.resolve(import.meta.dirname, "../../rules");
  const rules = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json") && f !== "rule.schema.json")
    .map((f) => {
      const { schedule: _s, $schema: _d, ...rule } = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
      return rule as Record<string, unknown>;
    });
  return rulesDir(rules);
}

async function seed(database: Database, rules: string): Promise<void> {
  const result = await runCli(database, ["seed", "--accounts", "30", "--users", "700", "--as-of", asOf], {
    SIGNALTAG_RULES_DIR: rules,
  });
  expect(result.code, result.stderr).toBe(0);
}

async function outcome(database: Database) {
  const claims = await rows(
    database.db,
    sql`select t.name, c.entity_type, c.entity_id, c.source from claims c join tags t on t.id = c.tag_id
        order by 1, 2, 3, 4`,
  );
  const events = await rows(
    database.db,
    sql`select t.name, e.entity_type, e.entity_id, e.action, e.source, e.membership_changed, e.rule_id,
               e.rule_version, e.as_of, e.explanation
        from tag_events e join tags t on t.id = e.tag_id order by 1, 2, 3, 4`,
  );
  const runs = await rows(
    database.db,
    sql`select rule_id, rule_version, status, evaluated, matched, added, removed from rule_runs order by rule_id, id`,
  );
  return { claims, events, runs };
}

const summaries = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((line) => {
      const { durationMs: _d, runId: _r, partitions: _p, ...rest } = JSON.parse(line);
      return rest;
    });

/** The queued run ended where an inline run of the same rules on the same seed does, leaving no partition rows. */
async function expectSameAsInline(queued: Database, inline: Database, queuedStdout: string, rules: string) {
  const direct = await runCli(inline, ["run", "--as-of", asOf, "--json"], { SIGNALTAG_RULES_DIR: rules });
  expect(summaries(queuedStdout)).toEqual(summaries(direct.stdout));
  const a = await outcome(queued);
  const b = await outcome(inline);
  expect(a.claims.length).toBeGreaterThan(100);
  expect(a.claims).toEqual(b.claims);
  expect(a.events).toEqual(b.events);
  expect(a.runs).toEqual(b.runs);
  const leftovers = await rows(
    queued.db,
    sql`select 1 from run_partition_changes union all select 1 from run_partitions`,
  );
  expect(leftovers).toEqual([]);
}

/** Two workspaces seeded alike with the standard rules: one for the queue, one to run inline and compare. */
async function seedBoth(queued: Database, inline: Database): Promise<string> {
  const rules = standardRules();
  await seed(queued, rules);
  await seed(inline, rules);
  return rules;
}

const enqueueRunAndWait = (database: Database, env: Record<string, string>) =>
  runCli(database, ["enqueue", "run", "--as-of", asOf, "--wait", "--json"], env);

describe.skipIf(queueUnavailable())("partitioned runs", () => {
  const queued = useTestDatabase();
  const inline = useTestDatabase();
  const q = useQueueTest();

  it("ends with exactly the claims and tag events of an inline run when three workers share it", async () => {
    const rules = await seedBoth(queued.database, inline.database);
    const extra = {
      SIGNALTAG_RULES_DIR: rules,
      SIGNALTAG_PARTITION_SIZE: "50",
      SIGNALTAG_WORKER_CONCURRENCY: "2",
    };
    const workers = await Promise.all([1, 2, 3].map(() => q.spawnWorker(queued.url!, extra)));

    const viaQueue = await enqueueRunAndWait(queued.database, { ...q.env(queued.url!), ...extra });
    expect(viaQueue.code, viaQueue.stderr).toBe(0);
    await expectSameAsInline(queued.database, inline.database, viaQueue.stdout, rules);
    // The user rules (700 users) were split into 14 partitions each; the account rules (30) were not.
    const parts = await rows<{ rule_id: string; partitions: number | null }>(
      queued.database.db,
      sql`select rule_id, (details->>'partitions')::int as partitions from rule_runs order by rule_id`,
    );
    expect(parts).toContainEqual({ rule_id: "power-users", partitions: 14 });
    expect(parts).toContainEqual({ rule_id: "new-account", partitions: null });

    const busy = workers.filter((w) => /evaluate-partition \S+ completed/.test(w.output()));
    expect(busy.length).toBeGreaterThanOrEqual(2);
    for (const w of workers) expect((await w.stop()).code).toBe(0);
  });

  it("holds a partitioned run that would remove more claims than the guard allows", async () => {
    const rules = standardRules();
    const extra = { SIGNALTAG_RULES_DIR: rules, SIGNALTAG_PARTITION_SIZE: "50" };
    const worker = await q.spawnWorker(queued.url!, extra);
    const before = await rows(
      queued.database.db,
      sql`select entity_id from claims where source = 'rule:power-users'`,
    );
    expect(before.length).toBeGreaterThan(5);
    // Later the same day, a queued run starts from the partitioned run's snapshot: no partitions.
    const same = await runCli(
      queued.database,
      ["enqueue", "run", "--rule", "power-users", "--as-of", asOf, "--wait", "--json"],
      { ...q.env(queued.url!), ...extra },
    );
    expect(same.code, same.stderr).toBe(0);
    const [sameRun] = await rows<{ scope: string | null; partitions: number | null; evaluated: number }>(
      queued.database.db,
      sql`select details->>'scope' as scope, (details->>'partitions')::int as partitions, evaluated
          from rule_runs order by id desc limit 1`,
    );
    expect(sameRun).toEqual({ scope: "changed", partitions: null, evaluated: 0 });

    // A broken feed: every user's activity vanished. The run is for the next day, so it evaluates every
    // entity in partitions (on the same day it would only evaluate what changed, without partitions).
    await queued.database.db.execute(sql`delete from activity_daily`);
    const nextDay = new Date(Date.parse(asOf) + 86_400_000).toISOString();
    const held = await runCli(
      queued.database,
      ["enqueue", "run", "--rule", "power-users", "--as-of", nextDay, "--wait", "--json"],
      { ...q.env(queued.url!), ...extra },
    );
    // A held run exits 3, as `signaltag run` does (issue 16: a held run has its own exit code; it was 0).
    expect(held.code, held.stderr).toBe(3);
    const [result] = held.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(result).toMatchObject({ rule: "power-users", status: "held", removed: before.length });
    const [run] = await rows<{ status: string; partitions: number }>(
      queued.database.db,
      sql`select status, (details->>'partitions')::int as partitions from rule_runs order by id desc limit 1`,
    );
    expect(run).toEqual({ status: "held", partitions: 14 });
    const after = await rows(
      queued.database.db,
      sql`select entity_id from claims where source = 'rule:power-users'`,
    );
    expect(after).toHaveLength(before.length);
    expect((await worker.stop()).code).toBe(0);
  });
});

describe.skipIf(queueUnavailable())("a partitioned run whose worker process is killed", () => {
  const queued = useTestDatabase();
  const inline = useTestDatabase();
  const q = useQueueTest();

  it("is finished by a fresh worker with the state of a clean run, each rule recorded once, no tag event twice", async () => {
    const rules = await seedBoth(queued.database, inline.database);
    const extra = {
      SIGNALTAG_RULES_DIR: rules,
      SIGNALTAG_PARTITION_SIZE: "50",
      SIGNALTAG_JOB_LOCK_MS: "2000",
    };
    const first = await q.spawnWorker(queued.url!, extra);
    const waiting = enqueueRunAndWait(queued.database, { ...q.env(queued.url!), ...extra });
    // Killed once the first partition's changes are stored: the run is fanned out and far from applied.
    await waitFor(
      "a partition's changes to be stored",
      async () => (await rows(queued.database.db, sql`select 1 from run_partitions limit 1`)).length > 0,
      { intervalMs: 5 },
    );
    first.process.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const recordedAtKill = await rows(queued.database.db, sql`select rule_id from rule_runs`);
    expect(recordedAtKill.length).toBeLessThan(5);

    const second = await q.spawnWorker(queued.url!, extra);
    const viaQueue = await waiting;
    expect(viaQueue.code, viaQueue.stderr).toBe(0);
    await expectSameAsInline(queued.database, inline.database, viaQueue.stdout, rules);
    // One applied run per rule, as inline: nothing was recorded twice or as failed.
    const runs = await rows(queued.database.db, sql`select status from rule_runs`);
    expect(runs).toEqual(Array(5).fill({ status: "applied" }));
    const twice = await rows(
      queued.database.db,
      sql`select entity_type, entity_id, tag_id, action from tag_events
          group by entity_type, entity_id, tag_id, action having count(*) > 1`,
    );
    expect(twice).toEqual([]);
    // The killed worker's jobs came back through stalled-job recovery and were finished by the new one.
    expect(second.output()).toMatch(/stalled; it is taken up again/);
    expect(second.output()).toMatch(/evaluate-partition \S+ completed/);
    expect((await second.stop()).code).toBe(0);
  });
});
