import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";

/*
 * The statements that write activity_daily and the reads that decide how.
 * Only ../rollups.ts runs them: it is the one writer of the rollups.
 */

/** The rollups' columns, in the order of the table and of every COPY into it. */
const COLUMN_LIST = "entity_type, entity_id, day, activity, module, count";
const COLUMNS = sql.raw(COLUMN_LIST);
/** The rollups' primary key. */
const COLUMNS_OF_KEY = sql.raw("entity_type, entity_id, day, activity, module");

/**
 * How eventRollupMerge() writes: "fresh" when no key can exist, "merge"
 * under lockRollups(), "upsert" beside other writers that upsert.
 */
export type RollupWrite = "fresh" | "merge" | "upsert";

export const COPY_INTO_ROLLUPS = `COPY activity_daily (${COLUMN_LIST}) FROM STDIN WITH (FORMAT binary)`;

/** A temporary table of sums with the rollups' columns, loaded by COPY_INTO_SUMS. */
export const SUMS_TABLE = sql`signaltag_rollup_sums`;
export const COPY_INTO_SUMS = "COPY signaltag_rollup_sums FROM STDIN WITH (FORMAT binary)";
/** The sums of SUMS_TABLE added up by key. */
const TOTALS_TABLE = sql`signaltag_rollup_totals`;

/**
 * The name of the new rollup rows, one per key, in the statement
 * eventRollupMerge() is part of.
 */
export const NEW_ROLLUPS = sql`roll_new`;

const sameKey = sql`d.entity_type = n.entity_type and d.entity_id = n.entity_id and d.day = n.day
  and d.activity = n.activity and d.module = n.module`;

/** Keeps other writers of the rollups out until this transaction ends (readers are not blocked). */
export async function lockRollupsTable(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`lock table activity_daily in share row exclusive mode`);
}

/** Whether an activity summary spans a day of `range`, a relation of one row (lo, hi) of dates. */
export async function summaryOverlaps(db: DbOrTx, range: SQL): Promise<boolean> {
  const [found] = await rows<{ found: boolean }>(
    db,
    sql`select exists (select 1 from activity_summary s, (${range}) r
          where s.first_day <= r.hi and s.last_day >= r.lo) as found`,
  );
  return found?.found === true;
}

/** The days from `first` to `last` (days since 1970) as a range for summaryOverlaps(). */
export function dayNumbers(first: number, last: number): SQL {
  return sql`select date '1970-01-01' + ${first}::int as lo, date '1970-01-01' + ${last}::int as hi`;
}

/** The days of `events` (a relation with occurred_at) in `timezone`, as a range for summaryOverlaps(). */
export function daysOfEvents(events: SQL, timezone: string): SQL {
  return sql`select min((e.occurred_at at time zone ${timezone})::date) as lo,
               max((e.occurred_at at time zone ${timezone})::date) as hi from ${events} e`;
}

export async function createSumsTable(tx: DbOrTx): Promise<void> {
  await tx.execute(
    sql`create temporary table ${SUMS_TABLE} (entity_type text not null, entity_id text not null,
          day date not null, activity text not null, module text not null, count bigint not null) on commit drop`,
  );
}

/**
 * SUMS_TABLE's partial sums added up once into a table of their own, grouped
 * by entity; an entity_type of 'user-account' counts for the account of the
 * user entity_id. Returns that table.
 */
export async function totalSums(tx: DbOrTx): Promise<SQL> {
  await tx.execute(sql`create temporary table ${TOTALS_TABLE} on commit drop as
      select s.entity_type, s.entity_id, s.day, s.activity, s.module, sum(s.count)::bigint as count
      from (
        select entity_type, entity_id, day, activity, module, count from ${SUMS_TABLE} where entity_type <> 'user-account'
        union all
        select 'account', u.account_id, s.day, s.activity, s.module, s.count
        from ${SUMS_TABLE} s join users u on u.id = s.entity_id where s.entity_type = 'user-account'
      ) s
      group by 1, 2, 3, 4, 5
      order by hashtext(s.entity_id)`);
  return TOTALS_TABLE;
}

/** Adds the sums of `source` (one row per key) to the rollups whose keys exist; how many there were. */
export async function addToExisting(tx: DbOrTx, source: SQL): Promise<number> {
  const [updated] = await rows<{ n: number }>(
    tx,
    sql`with u as (update activity_daily d set count = d.count + n.count from ${source} n where ${sameKey} returning 1)
        select count(*)::int as n from u`,
  );
  return Number(updated?.n);
}

/** Inserts the rows of `source` as they come; when `onlyUnseen`, those whose key does not exist yet. */
export async function insertRollups(tx: DbOrTx, source: SQL, onlyUnseen: boolean): Promise<void> {
  const unseen = onlyUnseen ? sql`where not exists (select 1 from activity_daily d where ${sameKey})` : sql``;
  await tx.execute(sql`insert into activity_daily (${COLUMNS})
    select n.entity_type, n.entity_id, n.day, n.activity, n.module, n.count from ${source} n ${unseen}`);
}

/** The accounts whose sums in SUMS_TABLE came through their users (at most `limit`). */
export async function accountsOfUserSums(tx: DbOrTx, limit: number): Promise<string[]> {
  const found = await rows<{ id: string }>(
    tx,
    sql`select distinct u.account_id as id from ${SUMS_TABLE} s join users u on u.id = s.entity_id
        where s.entity_type = 'user-account' limit ${limit}`,
  );
  return found.map((r) => r.id);
}

/**
 * Common table expressions (for a WITH, after any that `events` names) that
 * add the rollups of `events` (a relation with user_id, account_id, activity,
 * module, occurred_at and count) to the existing ones. The events must have
 * been checked (every event of a user carries that user's account): they are
 * then summed once per (user, account, day, activity, module), which are
 * already the user rollups, and the account rollups sum those smaller groups
 * again. Unchecked events could give a user two rows of one key, which the
 * primary key refuses.
 *
 * How the rows are written (`how`):
 * - "merge": the keys that exist are updated and the others inserted by a
 *   plain INSERT (an INSERT ... ON CONFLICT DO UPDATE writes more WAL, for
 *   its speculative insertion); only safe while no one else can add keys
 *   (the caller holds lockRollups());
 * - "fresh": all of them are inserted with no update or test;
 * - "upsert": INSERT ... ON CONFLICT DO UPDATE, safe beside other upserts
 *   without the lock. The rows go in one total order of their keys, so two
 *   such statements lock common keys in the same order and wait for each
 *   other instead of deadlocking. Users' rows come first and accounts'
 *   last: an account's rollup is shared by all its users' events, so
 *   concurrent commits nearly always meet on some account, and a row lock
 *   is held until commit. Locked last, the accounts are held only for the
 *   end of the statement, and a commit that waits for one has done the
 *   rest of its work meanwhile. (The summaries the trigger then adds are
 *   other rows, locked after every rollup row, so no cycle can form.) The
 *   AFTER INSERT trigger's transition table then holds only the rows
 *   really inserted and the AFTER UPDATE one the rows updated, as with the
 *   update and insert of "merge".
 * New rows arrive grouped by entity, ordered by a hash of its id (cheaper to
 * sort than the full text key), so that each entity's keys reach the same
 * few index pages together; rows in no order land all over the index.
 */
export function eventRollupMerge(events: SQL, timezone: string, how: RollupWrite): SQL {
  const rollupRows = sql`
      select 'user' as entity_type, g.user_id as entity_id, g.day, g.activity, g.module, g.count
      from roll_events g where g.user_id is not null
      union all
      select 'account', g.account_id, g.day, g.activity, g.module, sum(g.count)::bigint
      from roll_events g group by g.account_id, g.day, g.activity, g.module`;
  const inserted = (unseen: SQL) => sql`roll_inserted as (
      insert into activity_daily (${COLUMNS})
      select n.entity_type, n.entity_id, n.day, n.activity, n.module, n.count from ${NEW_ROLLUPS} n
      ${unseen}
      order by hashtext(n.entity_id))`;
  const merged =
    how === "upsert"
      ? sql`${NEW_ROLLUPS} as (${rollupRows}),
    roll_upserted as (
      insert into activity_daily as d (${COLUMNS})
      select n.entity_type, n.entity_id, n.day, n.activity, n.module, n.count from ${NEW_ROLLUPS} n
      order by n.entity_type = 'account', hashtext(n.entity_id), n.entity_type, n.entity_id, n.day, n.activity, n.module
      on conflict (${COLUMNS_OF_KEY}) do update set count = d.count + excluded.count)`
      : how === "fresh"
        ? sql`${NEW_ROLLUPS} as (${rollupRows}), ${inserted(sql``)}`
        : sql`${NEW_ROLLUPS} as (${rollupRows}),
    roll_updated as (
      update activity_daily d set count = d.count + n.count from ${NEW_ROLLUPS} n where ${sameKey}),
    ${inserted(sql`where not exists (select 1 from activity_daily d where ${sameKey})`)}`;
  return sql`roll_events as (
      select e.user_id, e.account_id, (e.occurred_at at time zone ${timezone})::date as day,
             e.activity, coalesce(e.module, '') as module, sum(e.count)::bigint as count
      from ${events} e
      group by 1, 2, 3, 4, 5),
    ${merged}`;
}

/**
 * Empties the rollups and inserts them again from every stored event, sorted
 * by the primary key so that its index grows at the right edge (the table
 * empty, no upsert is needed). `workMem` (Postgres only) sizes the sort.
 */
export async function recomputeRollups(tx: DbOrTx, timezone: string, workMem?: string): Promise<void> {
  await tx.execute(sql`truncate activity_daily`);
  if (workMem) await tx.execute(sql`select set_config('work_mem', ${workMem}, true)`);
  await tx.execute(sql`set local enable_hashagg = off`);
  await tx.execute(sql`
      insert into activity_daily (${COLUMNS})
      select entity_type, entity_id, day, activity, module, sum(count)::bigint as count
      from (
        select 'account' as entity_type, e.account_id as entity_id,
               (e.occurred_at at time zone ${timezone})::date as day,
               e.activity, coalesce(e.module, '') as module, e.count
        from activity_events e
        union all
        select 'user', e.user_id, (e.occurred_at at time zone ${timezone})::date,
               e.activity, coalesce(e.module, ''), e.count
        from activity_events e
        where e.user_id is not null
      ) contributions
      group by entity_type, entity_id, day, activity, module
      order by entity_type, entity_id, day, activity, module`);
}
