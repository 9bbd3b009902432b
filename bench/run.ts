/**
 * The rules benchmark (DESIGN section 6): seeds a workspace of the given size
 * on Postgres in a child process, then in this process times the hand-written
 * SQL lower bound for the five standard tag sets; the initial run of the
 * standard rules on the untagged workspace (every match written as a claim and
 * a tag event); the json-rules-engine reference path (a dry run, on a sample
 * scaled up); a no-change re-run; the full run (`--full`: every entity
 * evaluated and reconciled, tags in place, as a scheduled run); a run after
 * 5 % churn; and peak RSS. `fullRunSeconds` is the full run.
 *
 *   npm run bench -- --users 1000000 --accounts 100000 [--days 60] [--json] [--reuse]
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { loadConfig } from "../src/config.ts";
import { type Database, openPostgres, rows, type Tx } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { calendarDate } from "../src/facts/time.ts";
import { runRule } from "../src/runs/reconcile.ts";
import type { RunResult } from "../src/runs/run-result.ts";
import { loadValidRules, runConcurrency, runRules, selectRules } from "../src/runs/runner.ts";
import { evaluationSettings } from "../src/runs/sql/run-session.ts";
import { benchDatabaseUrl, parseArgs, peakRssMb } from "./scratch.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs(process.argv.slice(2));
const users = Number(args.users ?? 100_000);
const accounts = Number(args.accounts ?? Math.max(1, Math.round(users / 10)));
const days = Number(args.days ?? 60);
const json = args.json === true;
const timezone = "UTC";
const asOf = new Date(String(args["as-of"] ?? "2026-03-01T12:00:00Z"));
const log = (s: string) => process.stderr.write(`${s}\n`);

async function seconds<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [(performance.now() - t0) / 1000, value];
}

async function writtenRows(database: Database): Promise<number> {
  const [r] = await rows<{ n: number }>(
    database.db,
    sql`select (select count(*) from tag_events)::int + (select coalesce(sum(1), 0) from claims)::int as n`,
  );
  return r?.n ?? 0;
}

/**
 * The five standard tag sets in one hand-written statement: the floor any
 * evaluation path is measured against. `tuned`: under the session settings a
 * rule run uses (see evaluationSettings); the benchmark times it both ways
 * and keeps the faster.
 */
async function lowerBound(database: Database, tuned: boolean): Promise<Record<string, number>> {
  return database.db.transaction(async (tx) => {
    if (tuned) await evaluationSettings(tx);
    return lowerBoundSets(tx);
  });
}

async function lowerBoundSets(db: Tx): Promise<Record<string, number>> {
  const today = calendarDate(asOf, timezone);
  const t = asOf.toISOString();
  const [r] = await rows<Record<string, number>>(
    db,
    sql`with ua as (
          select entity_id, count(distinct day) as n from activity_daily
          where entity_type = 'user' and day > ${today}::date - 30 and day <= ${today}::date
          group by entity_id),
        u as (select u.id, u.created_at, coalesce(ua.n, 0) as active from users u left join ua on ua.entity_id = u.id
              where u.created_at <= ${t}::timestamptz)
        select
          (select count(*) from u where ${today}::date - (u.created_at at time zone ${timezone})::date < 30)::int as "new user",
          (select count(*) from u where active >= 20)::int as "power users",
          (select count(*) from u where active = 0)::int as "inactive user",
          (select count(*) from accounts a where a.provisioned_at <= ${t}::timestamptz
             and ${today}::date - (a.provisioned_at at time zone ${timezone})::date < 30)::int as "new-account",
          (select count(*) from accounts a where a.provisioned_at <= ${t}::timestamptz and a.contract_status = 'paying'
             and a.renewal_date - ${today}::date between 0 and 90 and a.health = 'poor')::int as "renewal-risk"`,
  );
  return r ?? {};
}

function summarize(results: RunResult[]) {
  return Object.fromEntries(
    results.map((r) => [r.tag, { status: r.status, matched: r.matched, added: r.added, removed: r.removed }]),
  );
}

async function main() {
  const url = await benchDatabaseUrl("signaltag_bench");
  const database = await openPostgres(url, { max: 4 });
  await migrate(database);
  const [existing] = await rows<{ users: number; accounts: number }>(
    database.db,
    sql`select (select count(*) from users)::int as users, (select count(*) from accounts)::int as accounts`,
  );
  let seedSeconds: number | null = null;
  if (!(args.reuse && existing?.users === users && existing?.accounts === accounts)) {
    log(`seeding ${users} users, ${accounts} accounts, ${days} days (child process)...`);
    const t0 = performance.now();
    const child = spawnSync(
      process.execPath,
      [
        path.join(root, "bin/signaltag.js"),
        "seed",
        "--users",
        String(users),
        "--accounts",
        String(accounts),
        "--days",
        String(days),
        "--as-of",
        asOf.toISOString(),
        "--replace",
      ],
      {
        env: { ...process.env, DATABASE_URL: url, SIGNALTAG_TIMEZONE: timezone },
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    if (child.status !== 0) throw new Error(`seed failed with exit code ${child.status}`);
    seedSeconds = (performance.now() - t0) / 1000;
  }
  await database.db.execute(sql`truncate claims, tag_events, rule_runs`);
  const [rollupRows] = await rows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from activity_daily`,
  );

  const all = await loadValidRules(path.join(root, "rules"));
  const selected = selectRules(all, []);
  const concurrency = runConcurrency(database, loadConfig().runConcurrency);
  const opts = { asOf, timezone, trigger: "manual" as const, removalGuard: 0.5, force: true, concurrency };

  log("lower bound (hand-written SQL), with the server's settings and with a rule run's...");
  const [lowerBoundDefaultSeconds, lowerSets] = await seconds(() => lowerBound(database, false));
  const [lowerBoundTunedSeconds] = await seconds(() => lowerBound(database, true));
  const lowerBoundSeconds = Math.min(lowerBoundDefaultSeconds, lowerBoundTunedSeconds);
  log(
    `  ${lowerBoundDefaultSeconds.toFixed(2)} s / ${lowerBoundTunedSeconds.toFixed(2)} s ${JSON.stringify(lowerSets)}`,
  );

  // The first run on an untagged workspace: every entity evaluated, and every match written as a claim and a
  // tag event (hundreds of thousands of rows), once in a workspace's life.
  log("initial run (shipped path, the workspace untagged)...");
  const [initialRunSeconds, initial] = await seconds(() => runRules(database.db, all, selected, opts));
  const rowsWrittenInitialRun = await writtenRows(database);
  log(
    `  ${initialRunSeconds.toFixed(2)} s, ${rowsWrittenInitialRun} rows written ${JSON.stringify(summarize(initial))}`,
  );
  for (const r of initial) {
    if (lowerSets[r.tag] !== r.matched)
      throw new Error(`${r.rule}: shipped path matched ${r.matched}, lower bound ${lowerSets[r.tag]}`);
  }

  // The reference path (json-rules-engine per entity) as a dry run, writing nothing,
  // on a sample of each entity type scaled up when the workspace is large.
  log("reference path (json-rules-engine per entity, dry run)...");
  const sample = Number(args["reference-sample"] ?? 100_000);
  let referenceSeconds = 0;
  let referenceSampled = false;
  for (const type of ["user", "account"] as const) {
    const table = type === "user" ? sql`users` : sql`accounts`;
    const [{ n } = { n: 0 }] = await rows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from ${table}`,
    );
    const ids = (
      await rows<{ id: string }>(database.db, sql`select id from ${table} order by id limit ${sample}`)
    ).map((r) => r.id);
    const rulesOfType = selected.filter((r) => r.definition.target === type);
    const [secs] = await seconds(async () => {
      for (const rule of rulesOfType) {
        await runRule(database.db, rule, { ...opts, dryRun: true, evaluation: "reference", entityIds: ids });
      }
    });
    if (ids.length < n) referenceSampled = true;
    referenceSeconds += ids.length > 0 ? (secs * n) / ids.length : 0;
  }
  log(
    `  ${referenceSeconds.toFixed(2)} s${referenceSampled ? ` (scaled from ${sample} per entity type)` : ""}`,
  );

  log("no-change re-run...");
  const before = await writtenRows(database);
  const [noChangeSeconds, again] = await seconds(() => runRules(database.db, all, selected, opts));
  const rowsWrittenNoChange = (await writtenRows(database)) - before;
  log(
    `  ${noChangeSeconds.toFixed(2)} s, ${rowsWrittenNoChange} rows written ${JSON.stringify(summarize(again))}`,
  );

  // The full run: every entity evaluated by every standard rule and its claims reconciled, on a tagged
  // workspace, as each scheduled run with --full (or on a new day) does; computing the same tag sets as the
  // lower bound and the (dry-run) reference path.
  log("full run (shipped path, --full: every entity evaluated)...");
  const [fullRunSeconds, full] = await seconds(() =>
    runRules(database.db, all, selected, { ...opts, incremental: false }),
  );
  const rowsWrittenFullRun = (await writtenRows(database)) - before;
  log(
    `  ${fullRunSeconds.toFixed(2)} s, ${rowsWrittenFullRun} rows written ${JSON.stringify(summarize(full))}`,
  );
  for (const r of full) {
    if (lowerSets[r.tag] !== r.matched || r.evaluated === 0)
      throw new Error(
        `${r.rule}: full run matched ${r.matched} of ${r.evaluated}, lower bound ${lowerSets[r.tag]}`,
      );
  }

  log("5 % churn run (a day later, 5 % of power users lose their activity)...");
  await database.db.execute(sql`
    delete from activity_daily where entity_type = 'user' and entity_id in (
      select entity_id from claims where source = 'rule:power-users' and hashtext(entity_id) % 20 = 0)`);
  const churnAsOf = new Date(asOf.getTime() + 86_400_000);
  const [churnSeconds, churn] = await seconds(() =>
    runRules(database.db, all, selected, { ...opts, asOf: churnAsOf }),
  );
  log(`  ${churnSeconds.toFixed(2)} s ${JSON.stringify(summarize(churn))}`);

  const result = {
    users,
    accounts,
    days,
    rollupRows: rollupRows?.n ?? 0,
    seedSeconds,
    fullRunSeconds: round(fullRunSeconds),
    rowsWrittenFullRun,
    initialRunSeconds: round(initialRunSeconds),
    rowsWrittenInitialRun,
    lowerBoundSeconds: round(lowerBoundSeconds),
    lowerBoundDefaultSeconds: round(lowerBoundDefaultSeconds),
    lowerBoundTunedSeconds: round(lowerBoundTunedSeconds),
    runConcurrency: concurrency,
    referenceSeconds: round(referenceSeconds),
    referenceSampled,
    noChangeSeconds: round(noChangeSeconds),
    rowsWrittenNoChange,
    // The re-run starts from the full run's snapshots: only entities changed since are evaluated.
    noChangeIncremental: again.every((r) => r.incrementalSince !== undefined),
    noChangeEvaluated: again.reduce((n, r) => n + r.evaluated, 0),
    churnSeconds: round(churnSeconds),
    fullToLowerBound: round(fullRunSeconds / lowerBoundSeconds),
    referenceToFull: round(referenceSeconds / fullRunSeconds),
    noChangeToFull: round(noChangeSeconds / fullRunSeconds),
    initialToLowerBound: round(initialRunSeconds / lowerBoundSeconds),
    referenceToInitial: round(referenceSeconds / initialRunSeconds),
    peakRssMb: peakRssMb(),
    matched: Object.fromEntries(full.map((r) => [r.tag, r.matched])),
    at: new Date().toISOString(),
  };
  await database.close();

  fs.mkdirSync(path.join(root, "bench/results"), { recursive: true });
  const stamp = result.at.replace(/[:.]/g, "-");
  const file = path.join(root, "bench/results", `rules-${users}u-${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(
    file.replace(/\.json$/, ".md"),
    [
      `# rules benchmark: ${users} users, ${accounts} accounts, ${days} days (${result.rollupRows} rollup rows)`,
      "",
      "| measure | value |",
      "| --- | --- |",
      `| full run, shipped path (every entity evaluated, tags in place) | ${result.fullRunSeconds} s, ${result.rowsWrittenFullRun} rows written |`,
      `| hand-written SQL lower bound (faster of server settings / a run's settings) | ${result.lowerBoundSeconds} s (${result.lowerBoundDefaultSeconds} s / ${result.lowerBoundTunedSeconds} s) |`,
      `| rules run at once | ${result.runConcurrency} |`,
      `| full / lower bound | ${result.fullToLowerBound}x |`,
      `| json-rules-engine reference | ${result.referenceSeconds} s${referenceSampled ? " (sample, scaled)" : ""} |`,
      `| reference / full | ${round(referenceSeconds / fullRunSeconds)}x |`,
      `| no-change re-run | ${result.noChangeSeconds} s, ${result.rowsWrittenNoChange} rows written, ${result.noChangeEvaluated} entities evaluated${result.noChangeIncremental ? " (incremental)" : ""} |`,
      `| no-change / full | ${result.noChangeToFull} |`,
      `| initial run (untagged workspace: every match written) | ${result.initialRunSeconds} s, ${result.rowsWrittenInitialRun} rows written |`,
      `| initial run / lower bound | ${result.initialToLowerBound}x |`,
      `| reference / initial run | ${result.referenceToInitial}x |`,
      `| 5 % churn run (next day, every entity evaluated) | ${result.churnSeconds} s |`,
      `| peak RSS | ${result.peakRssMb} MB |`,
      "",
    ].join("\n"),
  );
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `${fs.readFileSync(file.replace(/\.json$/, ".md"), "utf8")}\nsaved ${path.relative(root, file)}\n`,
    );
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
