import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { waitFor } from "../helpers/queue.ts";
import { recordTry } from "./figures.ts";
import { spawnServe } from "./processes.ts";
import { restartPostgres, stopPostgresFor } from "./services.ts";
import {
  afterFault,
  asOfDay,
  enqueueAndFanOut,
  lastLogAfter,
  seedBoth,
  services,
  stopCleanly,
  useFaultWorkspace,
  waitForRun,
  workerLogs,
} from "./workload.ts";

/** A worker's log line for a job the database's absence interrupted. */
const INTERRUPTED = /put back for \d+ ms, database unreachable|failed \(attempt \d+, will retry\)/;

describe("a Postgres restart", () => {
  const { queued, inline, q, rules, extra } = useFaultWorkspace();
  // The workspace the mid-run case seeds, seeded by a later case when that one was left out (CI).
  const seedUnlessSeeded = async () => {
    const [seeded] = await rows<{ n: number }>(queued.database.db, sql`select count(*)::int as n from users`);
    if (seeded?.n === 0) await seedBoth(queued.database, inline.database, rules);
  };

  // Once in about 18 restarts this left both workers silent (a ROLLBACK the driver never settled;
  // bench/README.md, "Faults"). SIGNALTAG_FAULTS_SKIP_OPEN=1 still leaves the case out.
  it.skipIf(process.env.SIGNALTAG_FAULTS_SKIP_OPEN === "1")(
    "mid-run, three times: the workers stay up, retry, and each run ends as a clean inline run",
    async () => {
      await seedBoth(queued.database, inline.database, rules);
      const url = queued.url!;
      const workers = [await q.spawnWorker(url, extra), await q.spawnWorker(url, extra)];
      for (let i = 1; i <= 3; i++) {
        const asOf = asOfDay(i);
        await enqueueAndFanOut(queued.database, { ...q.env(url), ...extra }, asOf);
        const restartedAt = Date.now();
        await restartPostgres();
        const backAt = Date.now();
        await waitForRun(queued.database, asOf).catch(async (err) => {
          const queues = await q.queues();
          const counts = await Promise.all([queues.rules.getJobCounts(), queues.partitions.getJobCounts()]);
          await queues.close();
          const activity = await rows(
            queued.database.db,
            sql`select state, wait_event, left(query, 80) as query from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid()`,
          );
          throw new Error(
            `${String(err)}\njobs (rules, partitions): ${JSON.stringify(counts)}\nsessions: ${JSON.stringify(activity)}\n${workerLogs(workers, 30_000)}`,
          );
        });
        // Down from the restart until a job completes after the last one the restart failed
        // (pg_ctlcluster may return after the retried jobs already completed).
        const failedAt = lastLogAfter(workers, INTERRUPTED, restartedAt) ?? backAt;
        const { resumedAt, cmp, crashes } = await afterFault(queued.database, inline.database, workers, {
          asOf,
          rules,
          since: failedAt,
        });
        recordTry(services().figuresFile, {
          fault: "Postgres restart mid-run (2 workers)",
          matched: cmp.matched,
          crashes,
          duplicates: cmp.duplicates,
          ...(resumedAt ? { downtimeMs: resumedAt - restartedAt } : {}),
        });
        expect(crashes, workers.map((w) => w.output()).join("\n---\n")).toBe(0);
        expect(cmp.claims).toBeGreaterThan(100);
        expect(cmp.a).toEqual(cmp.b);
        expect(cmp.duplicates).toBe(0);
      }
      // The restarts did interrupt jobs, which were put back to wait for the database (or retried), not lost.
      expect(workers.map((w) => w.output()).join("\n")).toMatch(INTERRUPTED);
      await stopCleanly(workers);
    },
  );

  it("down for 20 s mid-run (longer than the retries' backoff): jobs wait for it without using up attempts, and the run ends as a clean inline run", async () => {
    await seedUnlessSeeded();
    const url = queued.url!;
    const workers = [await q.spawnWorker(url, extra), await q.spawnWorker(url, extra)];
    const asOf = asOfDay(4);
    await enqueueAndFanOut(queued.database, { ...q.env(url), ...extra }, asOf);
    const stoppedAt = Date.now();
    // Five attempts 1, 2, 4 and 8 s apart fail for good within about 15 s: the outage outlasts them.
    await stopPostgresFor(20_000);
    const backAt = Date.now();
    await waitForRun(queued.database, asOf, { workers, logChars: 20_000 });
    const logs = () => workerLogs(workers, 20_000);
    const { resumedAt, cmp, crashes } = await afterFault(queued.database, inline.database, workers, {
      asOf,
      rules,
      since: backAt,
    });
    const output = workers.map((w) => w.output()).join("\n");
    recordTry(services().figuresFile, {
      fault: "Postgres down 20 s mid-run (2 workers)",
      matched: cmp.matched,
      crashes,
      duplicates: cmp.duplicates,
      outcome: `${output.match(/put back for/g)?.length ?? 0} jobs put back, ${output.match(/, final\)/g)?.length ?? 0} failed for good`,
      ...(resumedAt ? { downtimeMs: resumedAt - stoppedAt } : {}),
    });
    expect(crashes, logs()).toBe(0);
    expect(output, logs()).not.toMatch(/, final\)/);
    expect(cmp.a).toEqual(cmp.b);
    expect(cmp.duplicates).toBe(0);
    expect(output).toMatch(/put back for \d+ ms, database unreachable/);
    await stopCleanly(workers);
  });

  it("under API writes: serve answers 503 without SQL while the database is down, 200 after, and stays up", async () => {
    await seedUnlessSeeded();
    const key = await runCli(queued.database, ["keys", "create", "--name", "faults", "--role", "admin"]);
    expect(key.code, key.stderr).toBe(0);
    const users = await rows<{ id: string }>(
      queued.database.db,
      sql`select id from users order by id limit 20`,
    );
    const serve = await spawnServe({ DATABASE_URL: queued.url!, SIGNALTAG_RULES_DIR: rules });
    const headers = { authorization: `Bearer ${key.stdout.trim()}`, "content-type": "application/json" };
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    let firstFailure: number | undefined;
    let lastFailure: number | undefined;
    let stop = false;
    const note = (res: Response, body: string) => {
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status < 300) return;
      lastFailure = Date.now();
      firstFailure ??= lastFailure;
      const code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
      if (res.status !== 503 || code !== "database_unavailable" || /select|insert|failed query/i.test(body)) {
        bad.push(`${res.status} ${body}`);
      }
    };
    // Each writer adds a tag by hand and takes it off again, so every request writes.
    const writer = async (user: string, n: number) => {
      for (; !stop; n++) {
        const tag = `fault-${n % 3}`;
        const added = await fetch(`${serve.url}/v1/users/${user}/tags`, {
          method: "POST",
          headers,
          body: JSON.stringify({ tag }),
        });
        note(added, await added.text());
        if (added.status !== 200) continue;
        const removed = await fetch(`${serve.url}/v1/users/${user}/tags/${tag}`, {
          method: "DELETE",
          headers: { authorization: headers.authorization },
        });
        note(removed, await removed.text());
      }
    };
    const writers = users.map((u, i) => writer(u.id, i));
    try {
      await waitFor("writes to succeed", () => (statuses.get(200) ?? 0) > 50);
      const restartedAt = Date.now();
      await restartPostgres();
      await waitFor(
        "writes to succeed again after the restart",
        async () =>
          (statuses.get(200) ?? 0) > 0 && lastFailure !== undefined && Date.now() - lastFailure > 500,
        { timeoutMs: 60_000 },
      ).catch((err) => {
        throw new Error(
          `${String(err)}: ${JSON.stringify([...statuses])} ${bad.slice(0, 5).join("\n")}\n${serve.output().slice(-4000)}`,
        );
      });
      const health = await fetch(`${serve.url}/health`);
      stop = true;
      await Promise.all(writers);
      recordTry(services().figuresFile, {
        fault: "Postgres restart under API writes (serve)",
        matched: bad.length === 0,
        crashes: serve.alive() ? 0 : 1,
        duplicates: 0,
        outcome: [...statuses].map(([s, n]) => `${n}× ${s}`).join(", "),
        ...(firstFailure && lastFailure
          ? { downtimeMs: lastFailure - Math.min(firstFailure, restartedAt) }
          : {}),
      });
      expect(serve.alive(), serve.output()).toBe(true);
      expect(bad).toEqual([]);
      expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
      expect(health.status).toBe(200);
    } finally {
      stop = true;
      await Promise.allSettled(writers);
      expect((await serve.stop()).code).toBe(0);
    }
  });
});
