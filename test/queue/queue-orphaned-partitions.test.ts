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

const claims = (database: Database) =>
  rows(
    database.db,
    sql`select t.name, c.entity_type, c.entity_id, c.source from claims c join tags t on t.id = c.tag_id
        order by 1, 2, 3, 4`,
  );

const runKeys = async (database: Database) =>
  (await rows<{ run_key: string }>(database.db, sql`select distinct run_key from run_partitions`)).map(
    (r) => r.run_key,
  );

interface Orphan {
  rule: string;
  runKey: string;
  partitions: number;
}

describe.skipIf(queueUnavailable())("a partitioned run whose Redis lost its data", () => {
  const queued = useTestDatabase();
  const inline = useTestDatabase();
  const q = useQueueTest();

  it("is flagged by status as orphaned, with what to do, and a new run of the rule is not blocked by it", async () => {
    const rules = standardRules();
    await seed(queued.database, rules);
    await seed(inline.database, rules);
    const extra = {
      SIGNALTAG_RULES_DIR: rules,
      SIGNALTAG_PARTITION_SIZE: "50",
      SIGNALTAG_JOB_LOCK_MS: "2000",
    };
    const env = { ...q.env(queued.url!), ...extra };

    const status = async () => {
      const result = await runCli(queued.database, ["status", "--json"], env);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { orphanedRuns: Orphan[] };
    };
    expect((await status()).orphanedRuns).toEqual([]);

    const first = await q.spawnWorker(queued.url!, extra);
    expect((await runCli(queued.database, ["enqueue", "run", "--as-of", asOf], env)).code).toBe(0);
    await waitFor(
      "a partition's changes to be stored",
      async () => (await runKeys(queued.database)).length > 0,
      { intervalMs: 5 },
    );
    // While the run's job is pending its partitions are no orphans.
    expect((await status()).orphanedRuns).toEqual([]);
    first.process.kill("SIGKILL");
    await first.exited;
    // Redis comes back empty: the run's job, and its partitions' jobs, are gone.
    await q.clean();

    const [orphanKey] = await runKeys(queued.database);
    const flagged = await status();
    expect(flagged.orphanedRuns).toHaveLength(1);
    const [orphan] = flagged.orphanedRuns;
    expect(orphan).toMatchObject({ runKey: orphanKey });
    expect(orphan!.partitions).toBeGreaterThan(0);
    const text = await runCli(queued.database, ["status"], env);
    expect(text.stdout).toContain(`orphaned: ${orphan!.rule}: `);
    expect(text.stdout).toContain(`run the rule again (signaltag enqueue run --rule ${orphan!.rule})`);

    // A new run of every rule, the orphan's included, is applied and ends with an inline run's claims.
    const second = await q.spawnWorker(queued.url!, extra);
    const rerun = await runCli(queued.database, ["enqueue", "run", "--as-of", asOf, "--wait", "--json"], env);
    expect(rerun.code, rerun.stderr).toBe(0);
    const results = rerun.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { rule: string; status: string });
    expect(results.find((r) => r.rule === orphan!.rule)?.status).toBe("applied");
    const direct = await runCli(inline.database, ["run", "--as-of", asOf], { SIGNALTAG_RULES_DIR: rules });
    expect(direct.code, direct.stderr).toBe(0);
    expect(await claims(queued.database)).toEqual(await claims(inline.database));
    // Only the orphan's rows are left: the new run removed its own.
    expect(await runKeys(queued.database)).toEqual([orphanKey]);
    expect((await second.stop()).code).toBe(0);
  });
});
