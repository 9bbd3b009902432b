import { describe, expect, it } from "vitest";
import { deliverWebhooksJob } from "../../src/jobs/deliver-webhooks.ts";
import type { OrphanedRun } from "../../src/jobs/status.ts";
import { runCli } from "../helpers/cli.ts";
import { type SpawnedWorker, waitFor } from "../helpers/queue.ts";
import { powerUsersRule, rulesDir } from "../helpers/workspace.ts";
import { recordTry } from "./figures.ts";
import { restartRedis } from "./services.ts";
import {
  afterFault,
  asOfDay,
  compareWithClean,
  enqueueAndFanOut,
  partitionRows,
  runInline,
  running,
  seedBoth,
  services,
  stopCleanly,
  useFaultWorkspace,
  waitForRun,
  workerLogs,
} from "./workload.ts";

describe("a Redis restart", () => {
  const { queued, inline, q, rules, extra } = useFaultWorkspace();
  let workers: SpawnedWorker[] = [];
  const logs = () => workerLogs(workers, 4000);

  const enqueueAndWait = async (asOf: string) => {
    const result = await runCli(queued.database, ["enqueue", "run", "--as-of", asOf, "--wait", "--json"], {
      ...q.env(queued.url!),
      ...extra,
    });
    expect(result.code, `${result.stderr}\n${logs()}`).toBe(0);
  };

  it("with its data, three times mid-run: the workers reconnect and each run ends as a clean inline run", async () => {
    await seedBoth(queued.database, inline.database, rules);
    workers = [await q.spawnWorker(queued.url!, extra), await q.spawnWorker(queued.url!, extra)];
    for (let i = 1; i <= 3; i++) {
      const asOf = asOfDay(i);
      await enqueueAndFanOut(queued.database, { ...q.env(queued.url!), ...extra }, asOf);
      const restartedAt = Date.now();
      await restartRedis(true);
      const backAt = Date.now();
      await waitForRun(queued.database, asOf, { workers, logChars: 4000 });
      const { resumedAt, cmp, crashes } = await afterFault(queued.database, inline.database, workers, {
        asOf,
        rules,
        since: backAt,
      });
      recordTry(services().figuresFile, {
        fault: "Redis restart with its data (AOF) mid-run",
        matched: cmp.matched,
        crashes,
        duplicates: cmp.duplicates,
        ...(resumedAt ? { downtimeMs: resumedAt - restartedAt } : {}),
      });
      expect(crashes, logs()).toBe(0);
      expect(cmp.a).toEqual(cmp.b);
      expect(cmp.duplicates).toBe(0);
    }
    await stopCleanly(workers);
  });

  it("without its data, three times mid-run: the run is lost, status flags its partitions, and enqueued again it ends as a clean inline run", async () => {
    const env = { ...q.env(queued.url!), ...extra };
    workers = [await q.spawnWorker(queued.url!, extra), await q.spawnWorker(queued.url!, extra)];
    const abandoned: string[] = [];
    for (let i = 4; i <= 6; i++) {
      const asOf = asOfDay(i);
      await enqueueAndFanOut(queued.database, env, asOf, abandoned);
      await restartRedis(false);
      // Nothing in Redis says the run existed: only its stored partitions do, and status must say so.
      const flagged = await waitFor("status to flag the abandoned run", async () => {
        const status = await runCli(queued.database, ["status", "--json"], env);
        const found = (JSON.parse(status.stdout) as { orphanedRuns?: OrphanedRun[] }).orphanedRuns ?? [];
        const fresh = found.filter((a) => !abandoned.includes(a.runKey));
        return fresh.length > 0 ? fresh : undefined;
      });
      const text = await runCli(queued.database, ["status"], env);
      expect(text.stdout).toContain(`orphaned: ${flagged[0]!.rule}: `);
      expect(text.stdout).toContain(`of run ${flagged[0]!.runKey} `);
      abandoned.push(...flagged.map((a) => a.runKey));
      // The operator's answer: enqueue the run again. It reaches the clean run's state.
      await enqueueAndWait(asOf);
      await runInline(inline.database, asOf, rules);
      const cmp = await compareWithClean(queued.database, inline.database);
      const crashes = workers.filter((w) => !running(w)).length;
      recordTry(services().figuresFile, {
        fault: "Redis restart without its data mid-run",
        matched: cmp.matched,
        crashes,
        duplicates: cmp.duplicates,
        outcome: "run lost with Redis's data; flagged by status; enqueued again",
      });
      expect(crashes, logs()).toBe(0);
      expect(cmp.a).toEqual(cmp.b);
      expect(cmp.duplicates).toBe(0);
      expect(await partitionRows(queued.database, abandoned)).toBe(0);
    }
    await stopCleanly(workers);
  });
  it("without its data: a worker puts its rules' schedules and the webhook drain back by itself", async () => {
    // A schedule that does not fire during the test: only whether it is there counts.
    const dir = rulesDir([powerUsersRule({ schedule: { cron: "0 0 1 1 *", timezone: "UTC" } })]);
    workers = [await q.spawnWorker(queued.url!, { ...extra, SIGNALTAG_RULES_DIR: dir })];
    const queues = await q.queues();
    const schedulers = async () =>
      [
        ...(await queues.rules.getJobSchedulers()),
        ...(await queues.get(deliverWebhooksJob.queue).getJobSchedulers()),
      ]
        .map((s) => s.key)
        .sort();
    try {
      const before = await schedulers();
      expect(before).toContain("rule-power-users");
      expect(before).toHaveLength(2);
      await restartRedis(false);
      // No worker restarted and no `schedule sync`: the worker does it when it reconnects.
      const after = await waitFor("the schedulers to be back", async () => {
        const found = await schedulers();
        return found.length === before.length && found;
      });
      expect(after).toEqual(before);
      // The worker logs it once Redis has it: the line may come just after the test sees it there.
      await workers[0]!.waitForOutput(/schedulers: put back power-users added/);
    } finally {
      await queues.close();
    }
    await stopCleanly(workers);
  });
});
