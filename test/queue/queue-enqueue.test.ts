import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type Database, rows } from "../../src/db/client.ts";
import { runRuleJob } from "../../src/jobs/run-rule.ts";
import { waitForJob } from "../../src/jobs/wait.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest } from "../helpers/queue.ts";
import {
  addAccount,
  addActivity,
  addUser,
  claimsOf,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const asOf = "2026-03-31T12:00:00Z";
const today = "2026-03-31";

const newUsersRule = {
  id: "new-users",
  name: "New users",
  tag: "new user",
  target: "user",
  enabled: true,
  conditions: { all: [{ fact: "daysSinceCreated", operator: "lessThan", value: 30 }] },
};

async function workspace(database: Database): Promise<void> {
  await addAccount(database, { id: "acc-1" });
  for (let i = 1; i <= 12; i++) {
    const id = `u${String(i).padStart(2, "0")}`;
    await addUser(database, {
      id,
      accountId: "acc-1",
      createdAt: i % 3 === 0 ? "2026-03-20T00:00:00Z" : undefined,
    });
    await addActivity(database, { userId: id, accountId: "acc-1", days: lastDays(today, i * 2) });
  }
}

/** A run's JSON summary without what differs between two runs of the same thing. */
const comparable = (line: string) => {
  const { durationMs: _d, runId: _r, ...rest } = JSON.parse(line) as Record<string, unknown>;
  return rest;
};

describe.skipIf(queueUnavailable())("on-demand jobs", () => {
  const queued = useTestDatabase();
  const inline = useTestDatabase();
  const q = useQueueTest();

  it("returns the same summary and leaves the same claims as an inline run with enqueue run --wait", async () => {
    const dir = rulesDir([powerUsersRule(), newUsersRule]);
    await workspace(queued.database);
    await workspace(inline.database);
    const worker = await q.spawnWorker(queued.url!, { SIGNALTAG_RULES_DIR: dir });
    const env = { ...q.env(queued.url!), SIGNALTAG_RULES_DIR: dir };
    const viaQueue = await runCli(
      queued.database,
      ["enqueue", "run", "--as-of", asOf, "--wait", "--json"],
      env,
    );
    const direct = await runCli(inline.database, ["run", "--as-of", asOf, "--json"], {
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(viaQueue.code, viaQueue.stderr).toBe(0);
    expect(direct.code).toBe(0);
    const lines = (s: string) => s.trim().split("\n").map(comparable);
    expect(lines(viaQueue.stdout)).toEqual(lines(direct.stdout));
    expect(lines(viaQueue.stdout).map((r) => r.status)).toEqual(["applied", "applied"]);
    for (const tag of ["power users", "new user"]) {
      expect(await claimsOf(queued.database, tag)).toEqual(await claimsOf(inline.database, tag));
    }
    expect((await claimsOf(queued.database, "power users")).length).toBeGreaterThan(0);

    // The table form is the one an inline run prints.
    const table = await runCli(queued.database, ["enqueue", "run", "--as-of", asOf, "--wait"], env);
    const inlineTable = await runCli(inline.database, ["run", "--as-of", asOf], { SIGNALTAG_RULES_DIR: dir });
    // The last column (ms) is the only one that may differ, with its width.
    const withoutMs = (s: string) =>
      s
        .split("\n")
        .map((l) => l.replace(/\s+\S+\s*$/, ""))
        .join("\n");
    expect(withoutMs(table.stdout)).toEqual(withoutMs(inlineTable.stdout));

    const entity = await runCli(
      queued.database,
      ["enqueue", "entity", "user", "u12", "--wait", "--json"],
      env,
    );
    expect(entity.code, entity.stderr).toBe(0);
    expect(
      entity.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).rule)
        .sort(),
    ).toEqual(["new-users", "power-users"]);
    expect((await worker.stop()).code).toBe(0);
  });

  it("evaluates every entity on a queued run with --full, where the same day's run would evaluate what changed", async () => {
    const dir = rulesDir([powerUsersRule()]);
    await queued.reset();
    await workspace(queued.database);
    const worker = await q.spawnWorker(queued.url!, { SIGNALTAG_RULES_DIR: dir });
    const env = { ...q.env(queued.url!), SIGNALTAG_RULES_DIR: dir };
    const run = async (asOf: string, ...extra: string[]) => {
      const result = await runCli(
        queued.database,
        ["enqueue", "run", "--as-of", asOf, ...extra, "--wait", "--json"],
        env,
      );
      expect(result.code, result.stderr).toBe(0);
      const [last] = await rows<{ scope: string | null; evaluated: number }>(
        queued.database.db,
        sql`select details->>'scope' as scope, evaluated from rule_runs order by id desc limit 1`,
      );
      return last;
    };
    expect(await run("2026-03-31T12:00:00Z")).toEqual({ scope: null, evaluated: 12 });
    expect(await run("2026-03-31T13:00:00Z")).toEqual({ scope: "changed", evaluated: 0 });
    expect(await run("2026-03-31T14:00:00Z", "--full")).toEqual({ scope: null, evaluated: 12 });
    expect((await worker.stop()).code).toBe(0);
  });

  it("does not queue a rule run twice while it is waiting", async () => {
    const dir = rulesDir([powerUsersRule()]);
    const env = { ...q.env(queued.url!), SIGNALTAG_RULES_DIR: dir };
    const first = await runCli(queued.database, ["enqueue", "run", "--rule", "power-users"], env);
    const second = await runCli(queued.database, ["enqueue", "run", "--rule", "power-users"], env);
    expect(first.code).toBe(0);
    const id = /queued job (\S+)/.exec(first.stdout)?.[1];
    expect(id).toBeDefined();
    expect(second.stdout).toContain(`already queued as job ${id}`);
    const queues = await q.queues();
    expect(await queues.rules.getWaitingCount()).toBe(1);
    await queues.close();
  });

  it("refuses an unknown rule and queues nothing", async () => {
    const dir = rulesDir([powerUsersRule()]);
    const env = { ...q.env(queued.url!), SIGNALTAG_RULES_DIR: dir };
    const result = await runCli(queued.database, ["enqueue", "run", "--rule", "power-user"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unknown rule power-user (did you mean power-users?)");
    const queues = await q.queues();
    expect(await queues.rules.getWaitingCount()).toBe(0);
    await queues.close();
  });

  it("fails a job with a malformed payload once, without retries, with its reason", async () => {
    const dir = rulesDir([powerUsersRule()]);
    const queues = await q.queues();
    const job = await queues.rules.add(runRuleJob.name, { ruleId: 42, asOf: "yesterday" }, { attempts: 5 });
    const worker = await q.spawnWorker(queued.url!, { SIGNALTAG_RULES_DIR: dir });
    const outcome = await waitForJob(queues.rules, job.id!, { deadline: Date.now() + 30_000 });
    expect(outcome.state).toBe("failed");
    expect(outcome.attemptsMade).toBe(1);
    expect(outcome.failedReason).toContain("invalid run-rule payload");
    expect(outcome.failedReason).toContain("ruleId");
    expect(outcome.failedReason).toContain("asOf: must be an ISO-8601 instant");
    const runs = await rows(queued.database.db, sql`select 1 from rule_runs where trigger <> 'manual'`);
    expect(runs).toEqual([]);
    expect((await worker.stop()).code).toBe(0);
    await queues.close();
  });

  it("says what to set when REDIS_URL is missing", async () => {
    const result = await runCli(queued.database, ["worker"], { DATABASE_URL: queued.url! });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("set REDIS_URL");
    const embedded = await runCli(queued.database, ["worker"], { REDIS_URL: q.redisUrl });
    expect(embedded.code).toBe(2);
    expect(embedded.stderr).toContain("set DATABASE_URL");
  });
});
