import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { runAllJob } from "../../src/jobs/run-all.ts";
import { partitionBounds } from "../../src/runs/partitioned-run.ts";
import { runCli } from "../helpers/cli.ts";
import { type SpawnedWorker, waitFor } from "../helpers/queue.ts";
import { recordTry } from "./figures.ts";
import {
  asOfDay,
  compareWithClean,
  runInline,
  running,
  runsAsOf,
  seedBoth,
  services,
  stopCleanly,
  useFaultWorkspace,
  waitForRun,
} from "./workload.ts";

describe("the same work twice", () => {
  const { queued, inline, q, rules, extra } = useFaultWorkspace();
  let workers: SpawnedWorker[] = [];

  it("a run job delivered twice (a producer retried after a lost acknowledgement) applies once", async () => {
    await seedBoth(queued.database, inline.database, rules);
    workers = [await q.spawnWorker(queued.url!, extra), await q.spawnWorker(queued.url!, extra)];
    const asOf = asOfDay(1);
    const queues = await q.queues();
    // Two copies under different job ids: deduplication cannot merge them, both run, side by side.
    const payload = { asOf, trigger: "manual" as const };
    await Promise.all([
      queues.rules.add(runAllJob.name, payload, { ...runAllJob.options, jobId: randomUUID() }),
      queues.rules.add(runAllJob.name, payload, { ...runAllJob.options, jobId: randomUUID() }),
    ]);
    await queues.close();
    await waitForRun(queued.database, asOf);
    await runInline(inline.database, asOf, rules);
    const cmp = await compareWithClean(queued.database, inline.database);
    const crashes = workers.filter((w) => !running(w)).length;
    recordTry(services().figuresFile, {
      fault: "duplicate delivery of a run job",
      matched: cmp.matched,
      crashes,
      duplicates: cmp.duplicates,
    });
    expect(crashes).toBe(0);
    expect(cmp.a).toEqual(cmp.b);
    expect(cmp.duplicates).toBe(0);
    await stopCleanly(workers);
  });

  it("a run whose worker died after saving its fan-out but before queueing the partitions queues them when taken up", async () => {
    const asOf = asOfDay(3);
    workers = [await q.spawnWorker(queued.url!, extra)];
    // The payload as that worker left it: every rule but power-users pending, whose partitions
    // were never queued (kill -9 ten times found this window: the rule's run failed for good).
    const { bounds } = await partitionBounds(queued.database.db, "user", new Date(asOf), 200);
    const runKey = randomUUID();
    const queues = await q.queues();
    await queues.rules.add(
      runAllJob.name,
      {
        ruleIds: ["power-users"],
        asOf,
        trigger: "manual" as const,
        progress: {
          runKey,
          asOf,
          results: [],
          pending: { ruleId: "power-users", runKey: `${runKey}.power-users`, partitions: bounds.length },
          bounds: { user: bounds },
        },
      },
      { ...runAllJob.options, jobId: randomUUID() },
    );
    await queues.close();
    await waitFor("the power-users run", async () => {
      const runs = await runsAsOf(queued.database, asOf);
      return Object.keys(runs).length > 0 ? runs : undefined;
    });
    expect(await runsAsOf(queued.database, asOf)).toEqual({ applied: 1 });
    await runCli(inline.database, ["run", "--rule", "power-users", "--as-of", asOf], {
      SIGNALTAG_RULES_DIR: rules,
    });
    const cmp = await compareWithClean(queued.database, inline.database);
    expect(cmp.a).toEqual(cmp.b);
    expect((await workers[0]!.stop()).code).toBe(0);
  });

  it("two runs at once (all rules, and one of them) end as one clean run of all rules", async () => {
    const asOf = asOfDay(2);
    const env = { ...q.env(queued.url!), ...extra };
    workers = [await q.spawnWorker(queued.url!, extra), await q.spawnWorker(queued.url!, extra)];
    const [all, one] = await Promise.all([
      runCli(
        queued.database,
        ["enqueue", "run", "--as-of", asOf, "--wait", "--timeout", "300", "--json"],
        env,
      ),
      runCli(
        queued.database,
        ["enqueue", "run", "--rule", "power-users", "--as-of", asOf, "--wait", "--timeout", "300", "--json"],
        env,
      ),
    ]);
    expect(all.code, all.stderr).toBe(0);
    expect(one.code, one.stderr).toBe(0);
    await runInline(inline.database, asOf, rules);
    const cmp = await compareWithClean(queued.database, inline.database);
    const crashes = workers.filter((w) => !running(w)).length;
    recordTry(services().figuresFile, {
      fault: "two runs at once (all rules + one rule)",
      matched: cmp.matched,
      crashes,
      duplicates: cmp.duplicates,
    });
    expect(crashes).toBe(0);
    expect(cmp.a).toEqual(cmp.b);
    expect(cmp.duplicates).toBe(0);
    await stopCleanly(workers);
  });
});
