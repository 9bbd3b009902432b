import fs from "node:fs";
import { type SQL, sql } from "drizzle-orm";
import type postgres from "postgres";
import { CopyRefused, copyText, type Database, rows, type Tx } from "../../db/client.ts";
import { inTransaction, transactionConnection } from "../../db/transaction.ts";
import { lockRollups, mergeRollupSums, rollupMerge, rollupsWithin, rollupsWithinEvents } from "../rollups.ts";
import { formatOf, type ImportSource } from "../source.ts";
import { collectTouched, type TouchedRow } from "../sql/shared.ts";
import type { ImportOptions, ImportResult, ImportSpec } from "../types.ts";
import {
  firstRowLacksAccount,
  NeedsExactImport,
  SCANNED_COLUMNS,
  type ScanResult,
  scanEvents,
  splitHeader,
} from "./scan.ts";
import { EventSums, UserAccounts, type ValueRanks } from "./sums.ts";

/**
 * The events this transaction stored: they all carry its start time (found
 * through the BRIN index), and its transaction id. The id test is wrapped in a
 * CASE so that the planner, which has no statistics for it, does not take it
 * to keep one row in 200 and plan sorts and nested loops for a few rows.
 */
const OURS = sql`e.ingested_at = now() and case when e.xmin = pg_current_xact_id()::xid then true end`;
const ours = (columns: SQL) => sql`(select ${columns} from activity_events e where ${OURS})`;

/**
 * The stored events that refer to an unknown user or account, or to a user of
 * another account. Counted rather than tested with EXISTS: for EXISTS the
 * planner prefers a fast-start nested loop, one index probe per event (9 s for
 * 2M, against about 1 s for the hash join a full count gets).
 */
const badEvents = sql`select count(*)::int as bad from activity_events e left join users u on u.id = e.user_id
  where ${OURS} and case when e.user_id is not null then u.id is null or u.account_id <> e.account_id
    else not exists (select 1 from accounts a where a.id = e.account_id) end`;

/**
 * badEvents over the file's distinct references as the sums collected them,
 * loaded into a temporary table with statistics: a million of them are then
 * hash-joined with users, not looked up one at a time.
 */
async function badReferences(tx: Tx, connection: postgres.Sql, sums: EventSums): Promise<number> {
  await tx.execute(
    sql`create temporary table signaltag_import_references (user_id text, account_id text) on commit drop`,
  );
  await copyText(
    connection,
    "COPY signaltag_import_references FROM STDIN WITH (FORMAT binary)",
    sums.referencesCopyData(),
  );
  await tx.execute(sql`analyze signaltag_import_references`);
  const [found] = await rows<{ bad: number }>(
    tx,
    sql`select count(*)::int as bad
        from signaltag_import_references r left join users u on u.id = r.user_id
        where case when r.user_id is not null then u.id is null or u.account_id <> r.account_id
          else not exists (select 1 from accounts a where a.id = r.account_id) end`,
  );
  return Number(found?.bad);
}

/**
 * Every user's account, read in batches, or undefined when there are more
 * users than UserAccounts keeps.
 */
async function userAccounts(connection: postgres.Sql): Promise<UserAccounts | undefined> {
  const limit = UserAccounts.limit;
  const [counted] = await connection.unsafe(
    `select count(*)::int as n from (select 1 from users limit ${limit + 1}) t`,
  );
  if (Number(counted?.n) > limit) return undefined;
  const accounts = new UserAccounts();
  await connection.unsafe("select id, account_id from users").cursor(10_000, (batch) => {
    for (const row of batch) accounts.add(row.id as string, row.account_id as string);
  });
  return accounts.full ? undefined : accounts;
}

/**
 * How the database orders the sums' users, accounts, activities and modules
 * (the collation of the rollups' key), so that the sums can be sent in the
 * key's order. One statement; the lists are as long as the file's distinct
 * values.
 */
async function valueRanks(tx: Tx, sums: EventSums): Promise<ValueRanks> {
  const lists = sums.values();
  const ranked = (list: string[]) =>
    sql`(select coalesce(json_agg(t.i order by t.v, t.i), '[]')::text
         from json_array_elements_text(${JSON.stringify(list)}::json) with ordinality as t(v, i))`;
  const [found] = await rows<Record<keyof ValueRanks, string>>(
    tx,
    sql`select ${ranked(lists.users)} as users, ${ranked(lists.accounts)} as accounts,
               ${ranked(lists.activities)} as activities, ${ranked(lists.modules)} as modules`,
  );
  // Each list comes back as the 1-based positions of its values in order; the rank of a value is its place there.
  const rank = (sorted: string | undefined) => {
    const positions = JSON.parse(sorted ?? "[]") as number[];
    const out = new Int32Array(positions.length);
    positions.forEach((position, place) => {
      out[position - 1] = place;
    });
    return out;
  };
  return {
    users: rank(found?.users),
    accounts: rank(found?.accounts),
    activities: rank(found?.activities),
    modules: rank(found?.modules),
  };
}

/**
 * Whether Postgres puts every hour the sums met at the UTC offset this
 * process used for it, at its first and last second: then each event's day,
 * (occurred_at at time zone ...)::date, is the one it was summed on.
 */
async function sameDays(tx: Tx, sums: EventSums, timezone: string): Promise<boolean> {
  if (sums.offsets.size === 0) return true;
  const hours = JSON.stringify([...sums.offsets].map(([hour, offset]) => ({ hour, offset })));
  const offsetAt = (seconds: SQL) =>
    sql`extract(epoch from (to_timestamp(${seconds}) at time zone ${timezone}) - (to_timestamp(${seconds}) at time zone 'UTC'))`;
  const [found] = await rows<{ n: number }>(
    tx,
    sql`select count(*)::int as n from json_to_recordset(${hours}::json) as h(hour bigint, "offset" int)
        where ${offsetAt(sql`h.hour * 3600`)} <> h."offset" or ${offsetAt(sql`h.hour * 3600 + 3599`)} <> h."offset"`,
  );
  return Number(found?.n) === 0;
}

/**
 * The direct path for an events CSV on Postgres: the file's bytes are checked
 * as they stream and sent as binary COPY data, in the import's transaction,
 * straight into activity_events. While Postgres stores them, this process
 * sums the rollups and collects the file's distinct (user, account)
 * references (EventSums); the references are then checked and the sums
 * COPYed into a temporary table and merged into the rollups. When the sums
 * are given up (see EventSums), the references are checked on the stored rows
 * and the rollups summed from them instead. Each event is written once, and
 * no JavaScript string is made of its fields.
 *
 * It applies to a file of known columns without event_id; it gives up
 * (returns undefined, the transaction rolled back) as soon as anything would
 * need a message or a decision of the exact path: a bad value, an unknown
 * user or account, a quoted field. The caller then runs the exact path, which
 * reports the lines or skips them. A file that is refused is thus read twice.
 */
export async function importEventsDirect(
  database: Database,
  source: ImportSource,
  spec: ImportSpec,
  opts: ImportOptions & { timezone: string },
): Promise<ImportResult | undefined> {
  if (database.kind !== "postgres") return undefined;
  const file = typeof source === "string" ? source : "path" in source ? source.path : undefined;
  if (file === undefined || formatOf(file) !== "csv") return undefined;
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch {
    return undefined;
  }
  if (!stat.isFile()) return undefined;
  const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  // Sums that may have spilled to a temporary file, removed whatever the outcome.
  let spilling: EventSums | undefined;
  try {
    const split = await splitHeader(stream);
    if (!split) return undefined;
    const columns = split.columns.map((c) => c.toLowerCase());
    const usable =
      new Set(columns).size === columns.length &&
      columns.every((c) => (SCANNED_COLUMNS as readonly string[]).includes(c)) &&
      spec.missingColumns(new Set(columns)) === undefined;
    if (!usable) return undefined;
    // A row of an events file takes about 60 bytes.
    const summed = new EventSums(opts.timezone, { expectedRows: stat.size / 60 });
    spilling = summed;
    return await inTransaction(database.db, async (tx) => {
      const connection = transactionConnection(tx);
      if (!connection) throw new NeedsExactImport("no reserved connection");
      const started = performance.now();
      // Rows that leave account_id empty get their user's as they stream, from
      // every user's account loaded first, instead of an update of every
      // stored event afterwards.
      const accounts = firstRowLacksAccount(split.first, columns)
        ? await userAccounts(connection)
        : undefined;
      const scan: ScanResult = { rows: 0, fillAccount: false };
      const progress = (phase: "reading" | "merging") =>
        opts.onProgress?.({ phase, bytesRead: stream.bytesRead, totalBytes: stat.size, rows: scan.rows });
      await copyText(
        connection,
        `COPY activity_events (${SCANNED_COLUMNS.join(", ")}) FROM STDIN WITH (FORMAT binary)`,
        scanEvents(split.body, columns, spec, scan, () => progress("reading"), summed, accounts),
      ).catch((err: unknown) => {
        // A value the scanner let through that Postgres refuses: the exact path names the line.
        if (err instanceof CopyRefused || (err instanceof Error && err.name === "PostgresError"))
          throw new NeedsExactImport(err.message);
        throw err;
      });
      progress("merging");
      const inserted = scan.rows;
      const loaded = performance.now();

      // As on the exact path: the rollups hash their rows (this transaction only).
      await tx.execute(sql`set local work_mem = '256MB'`);
      let sums =
        summed.abandoned === undefined && (await sameDays(tx, summed, opts.timezone)) ? summed : undefined;
      if (!sums || scan.fillAccount) {
        // Statistics that include the rows just stored, or the plans below expect a handful.
        await tx.execute(sql`analyze activity_events`);
      }
      if (scan.fillAccount) {
        // An empty account_id was loaded as '' (never a real id: blank means none).
        await tx.execute(
          sql`update activity_events e set account_id = u.account_id
              from users u where ${OURS} and e.account_id = '' and u.id = e.user_id`,
        );
      }
      const bad = sums
        ? await badReferences(tx, connection, sums)
        : Number((await rows<{ bad: number }>(tx, badEvents))[0]?.bad);
      if (bad > 0) throw new NeedsExactImport("a row refers to an unknown or other user or account");
      if (sums?.throughUsers && !sums.partialBySpill) {
        // Users named without an account: their sums go to their accounts
        // here, so that none waits for a join in SQL (read in batches).
        const resolving = sums;
        await connection
          .unsafe(
            `select r.user_id, u.account_id from signaltag_import_references r
             join users u on u.id = r.user_id where r.account_id is null`,
          )
          .cursor(10_000, (batch) => {
            for (const row of batch) resolving.setAccount(row.user_id as string, row.account_id as string);
          });
        sums.resolveAccounts();
        // Given up (an id past what the sums keep): summed from the stored events below.
        if (sums.abandoned !== undefined) sums = undefined;
      }
      const checked = performance.now();

      const limit = opts.touchedLimit ?? 10_000;
      let result: TouchedRow[];
      if (sums) {
        await lockRollups(tx);
        // When no entity has rollups on the file's days (a first import, or
        // days after the last ones imported), every sum is a new key.
        const fresh = !(await rollupsWithin(tx, sums.firstDay, sums.lastDay));
        if (fresh && !sums.partial) {
          // Loaded as they come, in the key's order, with no table in between.
          await copyText(
            connection,
            "COPY activity_daily (entity_type, entity_id, day, activity, module, count) FROM STDIN WITH (FORMAT binary)",
            sums.copyData(await valueRanks(tx, sums)),
          );
        } else {
          await tx.execute(
            sql`create temporary table signaltag_rollup_sums (entity_type text not null, entity_id text not null,
                  day date not null, activity text not null, module text not null, count bigint not null) on commit drop`,
          );
          // Partial sums are added up by key in SQL, which orders them itself.
          const ranks = sums.partial ? undefined : await valueRanks(tx, sums);
          await copyText(
            connection,
            "COPY signaltag_rollup_sums FROM STDIN WITH (FORMAT binary)",
            sums.copyData(ranks),
          );
          await mergeRollupSums(tx, sql`signaltag_rollup_sums`, { partial: sums.partial, fresh });
        }
        // The touched entities are those the file names, and the accounts of users it names alone.
        const named = sums.named(limit + 1);
        const accounts = new Set(named.accounts);
        if (sums.throughUsers && accounts.size <= limit) {
          const found = await rows<{ id: string }>(
            tx,
            sql`select distinct u.account_id as id from signaltag_rollup_sums s join users u on u.id = s.entity_id
                where s.entity_type = 'user-account' limit ${limit + 1}`,
          );
          for (const { id } of found) accounts.add(id);
        }
        const row = (kind: string) => (id: string) => ({ kind, id, a: null, b: null });
        result = [...[...accounts].map(row("account")), ...named.users.map(row("user"))];
      } else {
        await lockRollups(tx);
        const events = ours(sql`e.user_id, e.account_id, e.activity, e.module, e.occurred_at, e.count`);
        // The touched entities are those of the new rollup rows, a smaller set than the events.
        const touchedOf = (type: string) =>
          sql`(select ${type} as kind, entity_id as id, null::int as a, null::int as b
               from (select distinct entity_id from roll_new where entity_type = ${type}) t limit ${limit + 1})`;
        const fresh = !(await rollupsWithinEvents(tx, events, opts.timezone));
        result = await rows<TouchedRow>(
          tx,
          sql`with ${rollupMerge(events, opts.timezone, fresh)}
              ${touchedOf("account")} union all ${touchedOf("user")}`,
        );
      }
      const { touched } = collectTouched(result, limit);
      return {
        entity: spec.entity,
        source: file,
        rows: scan.rows,
        imported: inserted,
        inserted,
        updated: 0,
        duplicates: 0,
        skipped: 0,
        problems: [],
        problemCount: 0,
        ignoredColumns: [],
        touched,
        timings: {
          read: (loaded - started) / 1000,
          check: (checked - loaded) / 1000,
          merge: (performance.now() - checked) / 1000,
        },
      };
    });
  } catch (err) {
    if (err instanceof NeedsExactImport) return undefined;
    throw err;
  } finally {
    stream.destroy();
    spilling?.release();
  }
}
