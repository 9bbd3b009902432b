import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { expect, inject } from "vitest";
import { type Database, rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import type { SpawnedWorker } from "../helpers/queue.ts";
import { useQueueTest, waitFor } from "../helpers/queue.ts";
import { rulesDir } from "../helpers/workspace.ts";

const firstDay = Date.parse("2026-03-31T12:00:00Z");

/** The as-of instant of the n-th run of a scenario: one day apart, so each run has work to do. */
export function asOfDay(n: number): string {
  return new Date(firstDay + n * 86_400_000).toISOString();
}

export function services() {
  return inject("faultServices");
}

/** The shipped rules without their schedules, so nothing but the test's own jobs runs. */
export function standardRules(): string {
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

/**
 * What every fault test sets up: the database the workers write (`queued`),
 * a clean copy the same runs are made on inline (`inline`), the queue, the
 * shipped rules, and the workers' settings (partitions of 200, locks of 2 s
 * so a killed worker's job is taken up soon, two jobs at once).
 */
export function useFaultWorkspace() {
  const queued = useTestDatabase();
  const inline = useTestDatabase();
  const q = useQueueTest();
  const rules = standardRules();
  const extra = {
    SIGNALTAG_RULES_DIR: rules,
    SIGNALTAG_PARTITION_SIZE: "200",
    SIGNALTAG_JOB_LOCK_MS: "2000",
    SIGNALTAG_WORKER_CONCURRENCY: "2",
  };
  return { queued, inline, q, rules, extra };
}

export const RULE_COUNT = 5;

/** Two workspaces seeded alike: one the faults happen to, one run inline to compare with. */
export async function seedBoth(queued: Database, inline: Database, rules: string, users = 3000) {
  for (const database of [queued, inline]) {
    const result = await runCli(
      database,
      ["seed", "--accounts", "60", "--users", String(users), "--as-of", asOfDay(0)],
      { SIGNALTAG_RULES_DIR: rules },
    );
    expect(result.code, result.stderr).toBe(0);
  }
}

/** Assignments and history, without ids and times that differ between two correct runs. */
export async function outcome(database: Database) {
  const claims = await rows(
    database.db,
    sql`select t.name, c.entity_type, c.entity_id, c.source from claims c join tags t on t.id = c.tag_id
        order by 1, 2, 3, 4`,
  );
  const events = await rows(
    database.db,
    sql`select t.name, e.entity_type, e.entity_id, e.action, e.source, e.membership_changed, e.rule_id,
               e.rule_version, e.as_of, e.explanation
        from tag_events e join tags t on t.id = e.tag_id order by 1, 2, 3, 4, 9`,
  );
  return { claims, events };
}

/** Tag events recorded more than once for the same change. */
export async function duplicateEvents(database: Database): Promise<number> {
  const [row] = await rows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from (
          select 1 from tag_events
          group by tag_id, entity_type, entity_id, action, source, rule_id, rule_version, as_of
          having count(*) > 1) d`,
  );
  return row?.n ?? 0;
}

/** Rule runs recorded as of this instant, by status. */
export async function runsAsOf(database: Database, asOf: string): Promise<Record<string, number>> {
  const found = await rows<{ status: string; n: number }>(
    database.db,
    sql`select status, count(*)::int as n from rule_runs where as_of = ${asOf}::timestamptz group by 1`,
  );
  return Object.fromEntries(found.map((r) => [r.status, r.n]));
}

/** Stored partitions, except those of runs known to be abandoned. */
export async function partitionRows(database: Database, abandoned: readonly string[] = []): Promise<number> {
  const [row] = await rows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from run_partitions
        where run_key <> all(${`{${abandoned.map((k) => `"${k}"`).join(",")}}`}::text[])`,
  );
  return row?.n ?? 0;
}

/** The last `chars` characters of each worker's output, for a failure's message. */
export function workerLogs(workers: readonly SpawnedWorker[], chars: number): string {
  return workers.map((w) => w.output().slice(-chars)).join("\n---\n");
}

/**
 * Waits until every rule has a recorded run as of this instant and no
 * partition work is left. Should it not come, the error ends with the last
 * `logChars` characters of each of `workers`' output.
 */
export async function waitForRun(
  database: Database,
  asOf: string,
  opts: { timeoutMs?: number; workers?: readonly SpawnedWorker[]; logChars?: number } = {},
): Promise<void> {
  await waitFor(
    `every rule's run as of ${asOf}`,
    async () => {
      const runs = await runsAsOf(database, asOf);
      const recorded = Object.values(runs).reduce((a, b) => a + b, 0);
      return recorded >= RULE_COUNT && (await partitionRows(database)) === 0;
    },
    { timeoutMs: opts.timeoutMs ?? 180_000, intervalMs: 100 },
  ).catch((err) => {
    if (!opts.workers) throw err;
    throw new Error(`${String(err)}\n${workerLogs(opts.workers, opts.logChars ?? 4000)}`);
  });
}

/**
 * The reference: the same run, inline, on the clean workspace. Exit 3 is a run
 * the removal guard held (as days pass, power users lapse); the faulted
 * workspace must then hold it too, which the comparison shows.
 */
export async function runInline(inline: Database, asOf: string, rules: string): Promise<void> {
  const result = await runCli(inline, ["run", "--as-of", asOf, "--json"], { SIGNALTAG_RULES_DIR: rules });
  expect([0, 3], result.stderr).toContain(result.code);
}

/** Compares the faulted workspace with the clean one; returns whether they match and the duplicates. */
export async function compareWithClean(queued: Database, inline: Database) {
  const [a, b] = await Promise.all([outcome(queued), outcome(inline)]);
  return {
    matched: JSON.stringify(a) === JSON.stringify(b),
    duplicates: await duplicateEvents(queued),
    claims: a.claims.length,
    a,
    b,
  };
}

/** Milliseconds since the epoch of the first worker log line after `since` matching `pattern`. */
export function firstLogAfter(workers: SpawnedWorker[], pattern: RegExp, since: number): number | undefined {
  let first: number | undefined;
  for (const w of workers) {
    for (const line of w.output().split("\n")) {
      const at = Date.parse(line.slice(0, 24));
      if (Number.isNaN(at) || at < since || !pattern.test(line)) continue;
      if (first === undefined || at < first) first = at;
    }
  }
  return first;
}

/** Milliseconds since the epoch of the last worker log line after `since` matching `pattern`. */
export function lastLogAfter(workers: SpawnedWorker[], pattern: RegExp, since: number): number | undefined {
  let last: number | undefined;
  for (const w of workers) {
    for (const line of w.output().split("\n")) {
      const at = Date.parse(line.slice(0, 24));
      if (Number.isNaN(at) || at < since || !pattern.test(line)) continue;
      if (last === undefined || at > last) last = at;
    }
  }
  return last;
}

/** True while the process has not exited. */
export function running(w: SpawnedWorker): boolean {
  return w.process.exitCode === null && w.process.signalCode === null;
}

/** Stops each worker with SIGTERM and expects a clean exit; the worker's log is the message when not. */
export async function stopCleanly(workers: readonly SpawnedWorker[]): Promise<void> {
  for (const w of workers) {
    const { code, signal } = await w.stop();
    expect({ code, signal }, w.output().slice(-6000)).toEqual({ code: 0, signal: null });
  }
}

/**
 * `enqueue run --as-of` on the faulted workspace, then waits until the run has
 * fanned out into stored partitions (those of runs known to be abandoned not
 * counted): the moment a fault hurts most.
 */
export async function enqueueAndFanOut(
  database: Database,
  env: Record<string, string>,
  asOf: string,
  abandoned: readonly string[] = [],
): Promise<void> {
  const enqueued = await runCli(database, ["enqueue", "run", "--as-of", asOf], env);
  expect(enqueued.code, enqueued.stderr).toBe(0);
  await waitFor("the run to be fanned out", async () => (await partitionRows(database, abandoned)) > 0, {
    intervalMs: 5,
  });
}

/**
 * After a fault and its run: when a job first completed after `since` (its
 * log line may come just after the run is visible), the same run made inline
 * on the clean workspace and compared, and the workers that died on their own.
 */
export async function afterFault(
  queued: Database,
  inline: Database,
  workers: SpawnedWorker[],
  run: { asOf: string; rules: string; since: number },
) {
  const resumedAt = await waitFor("a job completed after the fault", () =>
    firstLogAfter(workers, / completed in /, run.since),
  ).catch(() => undefined);
  await runInline(inline, run.asOf, run.rules);
  const cmp = await compareWithClean(queued, inline);
  const crashes = workers.filter((w) => !running(w)).length;
  return { resumedAt, cmp, crashes };
}
