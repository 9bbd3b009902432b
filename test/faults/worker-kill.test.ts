import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type Database, rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { type SpawnedWorker, waitFor } from "../helpers/queue.ts";
import { recordTry } from "./figures.ts";
import {
  asOfDay,
  compareWithClean,
  firstLogAfter,
  partitionRows,
  runInline,
  running,
  seedBoth,
  services,
  stopCleanly,
  useFaultWorkspace,
  waitForRun,
} from "./workload.ts";

/** True while some transaction holds a rule's advisory lock: a partition or the run's apply is under way. */
async function reconciling(database: Database): Promise<boolean> {
  const [row] = await rows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and l.granted and d.datname = current_database()`,
  );
  return (row?.n ?? 0) > 0;
}

describe("kill -9 of a worker mid-run", () => {
  const { queued, inline, q, rules, extra } = useFaultWorkspace();

  it("ten times: another worker takes the job up and every run ends as a clean inline run", async () => {
    await seedBoth(queued.database, inline.database, rules);
    const url = queued.url!;
    const workers: SpawnedWorker[] = [await q.spawnWorker(url, extra), await q.spawnWorker(url, extra)];
    const everyWorker = [...workers];
    for (let i = 1; i <= 10; i++) {
      const asOf = asOfDay(i);
      const enqueued = await runCli(queued.database, ["enqueue", "run", "--as-of", asOf], {
        ...q.env(url),
        ...extra,
      });
      expect(enqueued.code, enqueued.stderr).toBe(0);
      // Half the kills land while partitions are being stored, half on any transaction under a rule's lock.
      await waitFor(
        "the run to be under way",
        async () =>
          i % 2 === 1 ? (await partitionRows(queued.database)) > 0 : await reconciling(queued.database),
        { intervalMs: 5 },
      );
      const victim = workers.shift()!;
      const killedAt = Date.now();
      victim.process.kill("SIGKILL");
      expect((await victim.exited).signal).toBe("SIGKILL");
      workers.push(await q.spawnWorker(url, extra));
      everyWorker.push(workers.at(-1)!);
      await waitForRun(queued.database, asOf, { workers, logChars: 4000 });
      const takenUpAt = firstLogAfter(everyWorker, /stalled; it is taken up again/, killedAt);
      await runInline(inline.database, asOf, rules);
      const cmp = await compareWithClean(queued.database, inline.database);
      const crashes = workers.filter((w) => !running(w)).length;
      recordTry(services().figuresFile, {
        fault: "kill -9 of a worker mid-run (2 workers)",
        matched: cmp.matched,
        crashes,
        duplicates: cmp.duplicates,
        ...(takenUpAt ? { takenUpMs: takenUpAt - killedAt } : { outcome: "its jobs had finished" }),
      });
      expect(crashes).toBe(0);
      if (!cmp.matched) {
        const runs = (database: Database) =>
          rows(
            database.db,
            sql`select rule_id, status, evaluated, matched, added, removed, details->>'scope' as scope,
                       details->>'partitions' as partitions, error
                from rule_runs where as_of = ${asOf}::timestamptz order by rule_id, id`,
          );
        const logs = everyWorker
          .map((w) =>
            w
              .output()
              .split("\n")
              .filter((l) => !/evaluate-partition \S+ completed/.test(l))
              .join("\n"),
          )
          .join("\n---\n");
        throw new Error(
          `try ${i} differs from the clean run\nqueued: ${JSON.stringify(await runs(queued.database))}\ninline: ${JSON.stringify(await runs(inline.database))}\n${logs}`,
        );
      }
      expect(cmp.claims).toBeGreaterThan(100);
      expect(cmp.a).toEqual(cmp.b);
      expect(cmp.duplicates).toBe(0);
      const [recorded] = await rows<{ n: number }>(
        queued.database.db,
        sql`select count(*)::int as n from rule_runs where as_of = ${asOf}::timestamptz`,
      );
      expect(recorded?.n).toBe(5);
    }
    await stopCleanly(workers);
  });
});
