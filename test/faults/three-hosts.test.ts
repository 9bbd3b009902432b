import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { type SpawnedWorker, waitFor } from "../helpers/queue.ts";
import { recordTry } from "./figures.ts";
import { addHost, cutLink, type Host, removeHost, spawnWorkerOn } from "./hosts.ts";
import {
  asOfDay,
  compareWithClean,
  partitionRows,
  runInline,
  seedBoth,
  services,
  stopCleanly,
  useFaultWorkspace,
  waitForRun,
} from "./workload.ts";

describe("workers on three hosts", () => {
  const { queued, inline, q, rules, extra } = useFaultWorkspace();
  const hosts: Host[] = [];
  const workers: SpawnedWorker[] = [];
  afterAll(async () => {
    for (const w of workers) {
      w.process.kill("SIGKILL");
      await w.exited;
    }
    for (const h of hosts) removeHost(h);
  });

  it("share one partitioned run; one host's link is cut mid-run; the run completes once with the clean run's result", async () => {
    await seedBoth(queued.database, inline.database, rules);
    const s = services();
    const dbName = new URL(queued.url!).pathname.slice(1);
    for (const n of [1, 2, 3]) hosts.push(addHost(n));
    for (const host of hosts) {
      const env = {
        ...q.env(queued.url!),
        DATABASE_URL: `postgres://postgres@${host.gateway}:${s.pgPort}/${dbName}`,
        REDIS_URL: `redis://${host.gateway}:${s.redisPort}`,
        ...extra,
      };
      workers.push(await spawnWorkerOn(host, env));
    }
    const asOf = asOfDay(1);
    const enqueued = await runCli(queued.database, ["enqueue", "run", "--as-of", asOf], {
      ...q.env(queued.url!),
      SIGNALTAG_RULES_DIR: rules,
    });
    expect(enqueued.code, enqueued.stderr).toBe(0);
    // Cut the first host once it has stored a partition: it is doing its share when it vanishes.
    await waitFor(
      "the first host to store a partition",
      () => /evaluate-partition \S+ completed/.test(workers[0]!.output()),
      { intervalMs: 5, timeoutMs: 120_000 },
    );
    expect(await partitionRows(queued.database)).toBeGreaterThan(0);
    const cutAt = Date.now();
    cutLink(hosts[0]!);
    await waitForRun(queued.database, asOf, { timeoutMs: 300_000, workers, logChars: 3000 });
    const completedIn = Date.now() - cutAt;
    await runInline(inline.database, asOf, rules);
    const cmp = await compareWithClean(queued.database, inline.database);
    const runs = await rows<{ rule_id: string; n: number }>(
      queued.database.db,
      sql`select rule_id, count(*)::int as n from rule_runs where as_of = ${asOf}::timestamptz group by 1 order by 1`,
    );
    const shared = workers.filter((w) => /evaluate-partition \S+ completed/.test(w.output())).length;
    recordTry(s.figuresFile, {
      fault: "3 hosts (netns), one link cut mid-run",
      matched: cmp.matched,
      crashes: workers.slice(1).filter((w) => w.process.exitCode !== null).length,
      duplicates: cmp.duplicates,
      outcome: `${shared} hosts stored partitions; run done ${(completedIn / 1000).toFixed(1)} s after the cut`,
    });
    expect(cmp.claims).toBeGreaterThan(100);
    expect(cmp.a).toEqual(cmp.b);
    expect(cmp.duplicates).toBe(0);
    expect(runs.every((r) => r.n === 1)).toBe(true);
    expect(runs).toHaveLength(5);
    expect(shared).toBeGreaterThanOrEqual(2);
    await stopCleanly(workers.slice(1));
  });
});
