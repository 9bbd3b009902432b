/**
 * The ingestion benchmark: generates accounts, users and an events CSV
 * (2M events by default), imports them into Postgres the way `signaltag import`
 * does (validation, staging, reference checks, raw events and daily rollups in
 * one transaction), then in the same run COPYs the same events file into a
 * bare table with no checks, indexes or rollups. Prints both rates, their
 * ratio and the peak RSS of this process.
 *
 *   npm run bench:ingest -- [--events 2000000] [--users N] [--accounts M] [--days 60] [--loader] [--floor] [--user-only] [--json] [--keep]
 *
 * --loader adds a second baseline: the file read by the import's CSV reader and
 * loaded through the bulk loader into a bare table (no checks, merge or rollups).
 * --user-only leaves account_id empty on users' events (the import takes it
 * from the user).
 * --floor adds the floor of any import that stores rollups: the bare COPY plus
 * the import's rollup rows written into an empty table with their primary key,
 * and the same for the rollups stored one row per (entity, day) with arrays.
 *
 * Runs on DATABASE_URL (a database you can throw away: the events stay in it)
 * or, by default, on a scratch database it recreates on the local Postgres
 * (BENCH_POSTGRES_URL overrides the server) and drops at the end unless --keep.
 * With --json the last line is one JSON object.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { openPostgres, rows } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { importAccounts, importEvents, importUsers } from "../src/imports/index.ts";
import { openSource } from "../src/imports/source.ts";
import { freshDatabase, parseArgs, peakRssMb } from "./scratch.ts";

const args = parseArgs(process.argv.slice(2));
const events = Number(args.events ?? 2_000_000);
const users = Number(args.users ?? Math.max(1, Math.round(events / 100)));
const accounts = Number(args.accounts ?? Math.max(1, Math.round(users / 10)));
const days = Number(args.days ?? 60);
const json = args.json === true;
const keep = args.keep === true;
/** Events of users leave account_id empty (the import takes each user's). */
const userOnly = args["user-only"] === true;
const log = (s: string) => process.stderr.write(`${s}\n`);

for (const [name, value] of Object.entries({ events, users, accounts, days })) {
  if (!Number.isInteger(value) || value < 1) {
    log(`--${name} must be a whole number of at least 1`);
    process.exit(2);
  }
}

/** A small deterministic generator, so every run imports the same data. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes lines to a file in large chunks, waiting for the disk instead of buffering. */
async function writeLines(
  file: string,
  header: string,
  count: number,
  line: (i: number) => string,
): Promise<void> {
  const out = fs.createWriteStream(file);
  let chunk = `${header}\n`;
  for (let i = 0; i < count; i++) {
    chunk += `${line(i)}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
      chunk = "";
    }
  }
  out.end(chunk);
  await new Promise<void>((resolve, reject) => {
    out.on("finish", resolve);
    out.on("error", reject);
  });
}

async function generate(dir: string): Promise<{ accounts: string; users: string; events: string }> {
  const files = {
    accounts: path.join(dir, "accounts.csv"),
    users: path.join(dir, "users.csv"),
    events: path.join(dir, "events.csv"),
  };
  const rnd = random(42);
  const statuses = ["trial", "paying", "paying", "churned", ""];
  await writeLines(
    files.accounts,
    "id,name,provisioned_at,contract_status,renewal_date,health_score,plan",
    accounts,
    (i) =>
      `acc-${i},"Account ${i}, Inc.",2023-0${1 + (i % 9)}-1${i % 10}T08:00:00Z,${statuses[i % 5]},2026-0${1 + (i % 9)}-15,${Math.floor(rnd() * 101)},${i % 3 ? "pro" : "free"}`,
  );
  await writeLines(
    files.users,
    "id,account_id,email,name,created_at",
    users,
    (i) =>
      `usr-${i},acc-${i % accounts},user${i}@example.com,User ${i},2024-0${1 + (i % 9)}-0${1 + (i % 9)}T10:00:00Z`,
  );
  // Events come in sessions: a user (or, one time in twenty, the account
  // itself) does a few things on one day, so the rollups are denser than the
  // raw events, as in real usage data. Each activity belongs to one module.
  const activities: [string, string][] = [
    ["login", ""],
    ["view_report", "reports"],
    ["export", "reports"],
    ["create_dashboard", "dashboards"],
    ["invite_user", "admin"],
    ["api_call", "api"],
  ];
  const offsets = ["Z", "+02:00", "-05:00", "+05:30"];
  const start = Date.UTC(2025, 0, 1);
  let session = { user: "", account: "", day: 0, left: 0 };
  await writeLines(files.events, "user_id,account_id,activity,module,occurred_at,count", events, (i) => {
    if (session.left === 0) {
      const user = Math.floor(rnd() * users);
      session = {
        user: rnd() < 0.05 ? "" : `usr-${user}`,
        account: `acc-${user % accounts}`,
        day: start + Math.floor(rnd() * days) * 86_400_000,
        left: 1 + Math.floor(rnd() * 15),
      };
    }
    session.left--;
    const [activity, module] = activities[Math.floor(rnd() * rnd() * activities.length)]!;
    const at = new Date(session.day + Math.floor(rnd() * 86_400_000)).toISOString().slice(0, 19);
    const count = i % 7 === 0 ? String(1 + Math.floor(rnd() * 5)) : "";
    const account = userOnly && session.user ? "" : session.account;
    return `${session.user},${account},${activity},${module},${at}${offsets[i % 4]},${count}`;
  });
  return files;
}

async function scratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, drop: async () => {} };
  return freshDatabase("signaltag_bench_ingest");
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [(performance.now() - t0) / 1000, value];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-bench-ingest-"));
  const scratch = await scratchDatabase();
  const database = await openPostgres(scratch.url, { max: 4 });
  const bare = postgres(scratch.url, { max: 1, onnotice: () => {}, connection: { TimeZone: "UTC" } });
  try {
    await migrate(database);
    log(`generating ${accounts} accounts, ${users} users and ${events} events...`);
    const [generateSeconds, files] = await timed(() => generate(dir));
    const fileMb = fs.statSync(files.events).size / 1e6;
    log(`  ${generateSeconds.toFixed(1)} s, events file ${fileMb.toFixed(0)} MB`);

    const [entitySeconds] = await timed(async () => {
      await importAccounts(database, files.accounts);
      await importUsers(database, files.users);
    });
    log(`imported accounts and users in ${entitySeconds.toFixed(1)} s`);

    await database.db.execute(sql`checkpoint`);
    log("importing events (staging, checks, raw events and rollups)...");
    const [importSeconds, result] = await timed(() =>
      importEvents(database, files.events, { timezone: "UTC" }),
    );
    if (result.imported !== events) throw new Error(`imported ${result.imported} events, expected ${events}`);
    const [check] = await rows<{ events: number; rolled: number }>(
      database.db,
      sql`select (select sum(count) from activity_events)::bigint as events,
                 (select sum(count) from activity_daily where entity_type = 'account')::bigint as rolled`,
    );
    if (Number(check?.events) !== Number(check?.rolled)) {
      throw new Error(`rollups count ${check?.rolled} events, the raw table ${check?.events}`);
    }
    const importRate = events / importSeconds;
    const { read, check: checkSeconds, merge } = result.timings;
    log(
      `  ${importSeconds.toFixed(1)} s, ${Math.round(importRate)} events/s ` +
        `(read and stage ${read.toFixed(1)} s, check ${checkSeconds.toFixed(1)} s, merge ${merge.toFixed(1)} s)`,
    );

    await bare.unsafe(
      `create table bench_bare_events (user_id text, account_id text, activity text, module text,
         occurred_at timestamptz, count integer)`,
    );
    await database.db.execute(sql`checkpoint`);
    log("COPYing the same file into a bare table...");
    const [copySeconds] = await timed(async () => {
      const writable = await bare
        .unsafe("copy bench_bare_events from stdin with (format csv, header true)")
        .writable();
      await pipeline(fs.createReadStream(files.events), writable);
    });
    const [copied] = await bare`select count(*)::int as n from bench_bare_events`;
    if (copied?.n !== events) throw new Error(`the bare COPY loaded ${copied?.n} rows, expected ${events}`);
    const copyRate = events / copySeconds;
    log(`  ${copySeconds.toFixed(1)} s, ${Math.round(copyRate)} events/s`);

    // Optional second baseline: the same file read by the import's CSV reader and
    // loaded through the bulk loader into a bare text table, with no checks,
    // conversions, merge or rollups: the floor for any import that parses in Node.
    let loader: { loaderSeconds?: number; loaderEventsPerSecond?: number } = {};
    if (args.loader === true) {
      await bare.unsafe(
        `create unlogged table bench_loader_events (user_id text, account_id text, activity text, module text,
           occurred_at text, count text)`,
      );
      log("reading the file with the import's CSV reader into a bare table through the bulk loader...");
      const [loaderSeconds] = await timed(async () => {
        const opened = await openSource(files.events);
        async function* cells() {
          for await (const batch of opened.rows) for (const row of batch) if (row.values) yield row.values;
        }
        await database.copyRows(
          "bench_loader_events",
          ["user_id", "account_id", "activity", "module", "occurred_at", "count"],
          cells(),
        );
      });
      loader = {
        loaderSeconds: Number(loaderSeconds.toFixed(2)),
        loaderEventsPerSecond: Math.round(events / loaderSeconds),
      };
      log(`  ${loaderSeconds.toFixed(1)} s, ${loader.loaderEventsPerSecond} events/s`);
    }

    // Optional floor: the import's rollup rows, in key order as it sends them,
    // written into an empty table with the rollups' primary key and no
    // triggers (read from an unlogged copy, whose reading costs little beside
    // the writing). The bare COPY plus this is what an import that only wrote
    // the events and their rollup rows would cost, with nothing checked or summed.
    let floor: Record<string, number> = {};
    if (args.floor === true) {
      // The same rollups one row per (entity, day), their activities, modules
      // and counts in arrays: what the floor would be with that layout.
      await bare.unsafe(
        `create unlogged table bench_floor_source as
         select * from activity_daily order by entity_type, entity_id, day, activity, module`,
      );
      await bare.unsafe(
        `create unlogged table bench_floor_days_source as
         select entity_type, entity_id, day, array_agg(activity order by activity, module) as activities,
                array_agg(module order by activity, module) as modules, array_agg(count order by activity, module) as counts
         from activity_daily group by 1, 2, 3 order by 1, 2, 3`,
      );
      await bare.unsafe("create table bench_floor_rollups (like activity_daily including all)");
      await bare.unsafe(
        `create table bench_floor_days (entity_type text, entity_id text, day date, activities text[],
           modules text[], counts bigint[], primary key (entity_type, entity_id, day))`,
      );
      const timedInsert = async (what: string, table: string, source: string) => {
        await database.db.execute(sql`checkpoint`);
        log(`writing the import's rollups into an empty table with their key and no triggers, ${what}...`);
        const [seconds] = await timed(() => bare.unsafe(`insert into ${table} select * from ${source}`));
        const ratio = copySeconds / (copySeconds + seconds);
        log(`  ${seconds.toFixed(1)} s; with the bare COPY ${(ratio * 100).toFixed(0)} % of its rate`);
        return [Number(seconds.toFixed(2)), Number(ratio.toFixed(3))] as const;
      };
      const [rowSeconds, rowRatio] = await timedInsert(
        "a row per key",
        "bench_floor_rollups",
        "bench_floor_source",
      );
      const [daySeconds, dayRatio] = await timedInsert(
        "a row per entity and day",
        "bench_floor_days",
        "bench_floor_days_source",
      );
      floor = {
        floorRollupSeconds: rowSeconds,
        floorSeconds: Number((copySeconds + rowSeconds).toFixed(2)),
        floorRatio: rowRatio,
        floorDayRows: Number((await bare`select count(*)::int as n from bench_floor_days_source`)[0]?.n),
        floorDayRowSeconds: daySeconds,
        floorDayRowRatio: dayRatio,
      };
    }

    const summary = {
      events,
      users,
      accounts,
      days,
      userOnly,
      fileMb: Math.round(fileMb),
      importSeconds: Number(importSeconds.toFixed(2)),
      importEventsPerSecond: Math.round(importRate),
      bareCopySeconds: Number(copySeconds.toFixed(2)),
      bareCopyEventsPerSecond: Math.round(copyRate),
      ratio: Number((importRate / copyRate).toFixed(3)),
      importPath: result.path,
      ...(result.fallback ? { importFallback: result.fallback } : {}),
      importPhases: {
        readAndStageSeconds: Number(read.toFixed(2)),
        checkSeconds: Number(checkSeconds.toFixed(2)),
        mergeSeconds: Number(merge.toFixed(2)),
      },
      ...loader,
      ...floor,
      rollupRows: Number(
        (await rows<{ n: number }>(database.db, sql`select count(*)::int as n from activity_daily`))[0]?.n,
      ),
      peakRssMb: peakRssMb(),
    };
    log(
      `import ${summary.importEventsPerSecond} events/s, bare COPY ${summary.bareCopyEventsPerSecond} events/s, ` +
        `ratio ${(summary.ratio * 100).toFixed(0)} %, peak RSS ${summary.peakRssMb} MB`,
    );
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    if (!keep)
      await bare
        .unsafe(
          "drop table if exists bench_bare_events, bench_loader_events, bench_floor_rollups, bench_floor_source, bench_floor_days, bench_floor_days_source",
        )
        .catch(() => {});
    await bare.end({ timeout: 5 });
    await database.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if (!keep) await scratch.drop();
  }
}

main().catch((err) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
