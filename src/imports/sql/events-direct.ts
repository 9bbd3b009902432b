import { type SQL, sql } from "drizzle-orm";
import type postgres from "postgres";
import { type DbOrTx, rows } from "../../db/client.ts";
import { copyText } from "../../db/copy.ts";
import { NEW_ROLLUPS } from "./rollups.ts";

/*
 * The statements of the events direct path (events/direct.ts) other than the
 * rollups' (sql/rollups.ts).
 */

/** The columns of the COPY of a file's events, in the order the scanner writes them. */
export const SCANNED_COLUMNS = [
  "user_id",
  "account_id",
  "activity",
  "module",
  "occurred_at",
  "count",
] as const;

export const COPY_EVENTS = `COPY activity_events (${SCANNED_COLUMNS.join(", ")}) FROM STDIN WITH (FORMAT binary)`;

/**
 * The events this transaction stored: they all carry its start time (found
 * through the BRIN index), and its transaction id. The id test is wrapped in a
 * CASE so that the planner, which has no statistics for it, does not take it
 * to keep one row in 200 and plan sorts and nested loops for a few rows.
 */
const OURS = sql`e.ingested_at = now() and case when e.xmin = pg_current_xact_id()::xid then true end`;

/** The events this transaction stored, with these columns, as a relation. */
export function storedEvents(): SQL {
  return sql`(select e.user_id, e.account_id, e.activity, e.module, e.occurred_at, e.count from activity_events e where ${OURS})`;
}

/** The rollups hash their rows: on a server, an import may use the memory for that (this transaction only). */
export async function allowImportMemory(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`set local work_mem = '256MB'`);
}

/** Statistics that include the rows just stored, or the plans after a large COPY expect a handful. */
export async function analyzeEvents(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`analyze activity_events`);
}

/** Gives the stored events loaded with account_id '' (never a real id: blank means none) their user's account. */
export async function fillAccounts(tx: DbOrTx): Promise<void> {
  await tx.execute(
    sql`update activity_events e set account_id = u.account_id
        from users u where ${OURS} and e.account_id = '' and u.id = e.user_id`,
  );
}

/**
 * How many stored events refer to an unknown user or account, or to a user
 * of another account. Counted rather than tested with EXISTS: for EXISTS the
 * planner prefers a fast-start nested loop, one index probe per event, where
 * a full count gets a hash join.
 */
export async function countBadEvents(tx: DbOrTx): Promise<number> {
  const [found] = await rows<{ bad: number }>(
    tx,
    sql`select count(*)::int as bad from activity_events e left join users u on u.id = e.user_id
  where ${OURS} and case when e.user_id is not null then u.id is null or u.account_id <> e.account_id
    else not exists (select 1 from accounts a where a.id = e.account_id) end`,
  );
  return Number(found?.bad);
}

/**
 * countBadEvents() over a file's distinct (user, account) references, given
 * as binary COPY data, loaded into a temporary table with statistics: a
 * million of them are then hash-joined with users, not looked up one at a
 * time. The table stays for eachUserOfReferences().
 */
export async function countBadReferences(
  tx: DbOrTx,
  connection: postgres.Sql,
  references: Iterable<Uint8Array>,
): Promise<number> {
  await tx.execute(
    sql`create temporary table signaltag_import_references (user_id text, account_id text) on commit drop`,
  );
  await copyText(connection, "COPY signaltag_import_references FROM STDIN WITH (FORMAT binary)", references);
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

/** Each user the references name without an account, with the user's account, read in batches. */
export async function eachUserOfReferences(
  connection: postgres.Sql,
  fn: (user: string, account: string) => void,
): Promise<void> {
  await connection
    .unsafe(
      `select r.user_id, u.account_id from signaltag_import_references r
             join users u on u.id = r.user_id where r.account_id is null`,
    )
    .cursor(10_000, (batch) => {
      for (const row of batch) fn(row.user_id as string, row.account_id as string);
    });
}

/** Whether there are more than `limit` users. */
export async function moreUsersThan(connection: postgres.Sql, limit: number): Promise<boolean> {
  const [counted] = await connection.unsafe(
    `select count(*)::int as n from (select 1 from users limit ${limit + 1}) t`,
  );
  return Number(counted?.n) > limit;
}

/** Every user with the user's account, read in batches. */
export async function eachUserAccount(
  connection: postgres.Sql,
  fn: (user: string, account: string) => void,
): Promise<void> {
  await connection.unsafe("select id, account_id from users").cursor(10_000, (batch) => {
    for (const row of batch) fn(row.id as string, row.account_id as string);
  });
}

/** The distinct values of a file's sums, by kind. */
interface ValueLists {
  users: string[];
  accounts: string[];
  activities: string[];
  modules: string[];
}

/**
 * For each list, the 1-based positions of its values in the database's order
 * of text (the collation of the rollups' key), as JSON arrays. One statement;
 * the lists are as long as the file's distinct values.
 */
export async function collationOrder(
  tx: DbOrTx,
  lists: ValueLists,
): Promise<Partial<Record<keyof ValueLists, string>>> {
  const ranked = (list: string[]) =>
    sql`(select coalesce(json_agg(t.i order by t.v, t.i), '[]')::text
         from json_array_elements_text(${JSON.stringify(list)}::json) with ordinality as t(v, i))`;
  const [found] = await rows<Record<keyof ValueLists, string>>(
    tx,
    sql`select ${ranked(lists.users)} as users, ${ranked(lists.accounts)} as accounts,
               ${ranked(lists.activities)} as activities, ${ranked(lists.modules)} as modules`,
  );
  return found ?? {};
}

/**
 * How many of `hours` (since 1970, each with the UTC offset in seconds this
 * process used for it) Postgres puts at another offset in `timezone`, at
 * their first or last second.
 */
export async function hoursAtOtherOffsets(
  tx: DbOrTx,
  hours: { hour: number; offset: number }[],
  timezone: string,
): Promise<number> {
  const offsetAt = (seconds: SQL) =>
    sql`extract(epoch from (to_timestamp(${seconds}) at time zone ${timezone}) - (to_timestamp(${seconds}) at time zone 'UTC'))`;
  const [found] = await rows<{ n: number }>(
    tx,
    sql`select count(*)::int as n from json_to_recordset(${JSON.stringify(hours)}::json) as h(hour bigint, "offset" int)
        where ${offsetAt(sql`h.hour * 3600`)} <> h."offset" or ${offsetAt(sql`h.hour * 3600 + 3599`)} <> h."offset"`,
  );
  return Number(found?.n);
}

/**
 * The accounts and the users of the new rollup rows of the statement it ends
 * (at most limit + 1 of each), as rows of the touched-ids query (TouchedRow):
 * a smaller set to read than the events.
 */
export function touchedOfNewRollups(limit: number): SQL {
  const of = (type: string) =>
    sql`(select ${type} as kind, entity_id as id, null::int as a, null::int as b
         from (select distinct entity_id from ${NEW_ROLLUPS} where entity_type = ${type}) t limit ${limit + 1})`;
  return sql`${of("account")} union all ${of("user")}`;
}
