import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest } from "../helpers/queue.ts";
import { powerUsersRule, rulesDir } from "../helpers/workspace.ts";

const hourly = { cron: "0 * * * *", timezone: "UTC" };

async function recordRun(
  database: Database,
  rule: string,
  status: string,
  minutesAgo: number,
  details: Record<string, unknown> = {},
  added = 2,
) {
  await database.db.execute(sql`
    insert into rule_runs (rule_id, rule_version, trigger, as_of, status, evaluated, matched, added, removed,
                           started_at, finished_at, error, details)
    values (${rule}, 'v1', 'schedule', now(), ${status}, 10, 4, ${added}, 1,
            now() - make_interval(mins => ${minutesAgo}), now() - make_interval(mins => ${minutesAgo}),
            ${status === "failed" ? "database went away" : null}, ${JSON.stringify(details)}::jsonb)`);
}

describe.skipIf(queueUnavailable())("signaltag status", () => {
  const t = useTestDatabase();
  const q = useQueueTest();

  it("shows per rule its last run, next scheduled run and queued jobs, and flags stale rules", async () => {
    const dir = rulesDir([
      powerUsersRule({ id: "fresh", tag: "fresh", schedule: hourly }),
      powerUsersRule({ id: "late", tag: "late", schedule: hourly }),
      powerUsersRule({ id: "broken", tag: "broken", schedule: hourly }),
      powerUsersRule({ id: "manual-only", tag: "manual only" }),
      powerUsersRule({ id: "incremental", tag: "incremental", schedule: hourly }),
    ]);
    // A full run at the day's first firing, then runs of what changed since: the rule is up to date. A
    // re-evaluation of a few entities (scope entities) after them is no run of the rule.
    await recordRun(t.database, "incremental", "applied", 180, {}, 7);
    await recordRun(t.database, "incremental", "applied", 20, { scope: "changed", since: 1 }, 3);
    await recordRun(t.database, "incremental", "failed", 5, { scope: "entities", entities: 1 }, 0);
    await recordRun(t.database, "fresh", "applied", 10);
    await recordRun(t.database, "late", "applied", 180);
    await recordRun(t.database, "broken", "applied", 30);
    await recordRun(t.database, "broken", "failed", 5);
    const env = { ...q.env(t.url!), SIGNALTAG_RULES_DIR: dir };
    expect((await runCli(t.database, ["schedule", "sync"], env)).code).toBe(0);
    expect((await runCli(t.database, ["enqueue", "run", "--rule", "fresh"], env)).code).toBe(0);

    const result = await runCli(t.database, ["status", "--json"], env);
    expect(result.code, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as {
      rules: Record<string, unknown>[];
      queues: Record<string, Record<string, number>>;
    };
    const byRule = new Map(status.rules.map((r) => [r.rule, r]));
    expect(byRule.get("fresh")).toMatchObject({
      stale: false,
      queued: 1,
      lastRun: { status: "applied", added: 2, removed: 1 },
    });
    expect(Date.parse(String(byRule.get("fresh")?.nextRunAt))).toBeGreaterThan(Date.now());
    expect(byRule.get("late")).toMatchObject({ stale: true, queued: 0 });
    expect(String(byRule.get("late")?.staleReason)).toContain("twice the schedule interval");
    expect(byRule.get("broken")).toMatchObject({ stale: true, staleReason: "last run failed" });
    expect(byRule.get("manual-only")).toMatchObject({ stale: false });
    expect(byRule.get("incremental")).toMatchObject({
      stale: false,
      lastRun: { status: "applied", added: 3 },
    });
    expect(byRule.get("manual-only")?.nextRunAt).toBeUndefined();
    expect(status.queues.rules?.waiting).toBe(1);

    const text = await runCli(t.database, ["status"], env);
    expect(text.stdout).toMatch(/late .* STALE/);
    expect(text.stdout).toContain("stale: broken: last run failed");

    const withoutQueue = await runCli(t.database, ["status"], {
      DATABASE_URL: t.url!,
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(withoutQueue.code).toBe(0);
    expect(withoutQueue.stdout).toContain("note: REDIS_URL is not set");
  });
});
