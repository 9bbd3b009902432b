import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../db/client.ts";

/**
 * The rollup rows events contribute, summed per key: one for each event's
 * account and, when it has a user, one for the user, on the event's calendar
 * day in `timezone`. `events` is a SQL relation with user_id, account_id,
 * activity, module, occurred_at and count columns.
 */
function rollupRows(events: SQL, timezone: string): SQL {
  return sql`
    select entity_type, entity_id, day, activity, module, sum(count)::bigint as count
    from (
      select 'account' as entity_type, e.account_id as entity_id,
             (e.occurred_at at time zone ${timezone})::date as day,
             e.activity, coalesce(e.module, '') as module, e.count
      from ${events} e
      union all
      select 'user', e.user_id, (e.occurred_at at time zone ${timezone})::date,
             e.activity, coalesce(e.module, ''), e.count
      from ${events} e
      where e.user_id is not null
    ) contributions
    group by entity_type, entity_id, day, activity, module`;
}

const sameKey = sql`d.entity_type = n.entity_type and d.entity_id = n.entity_id and d.day = n.day
  and d.activity = n.activity and d.module = n.module`;

/**
 * Common table expressions (for a WITH, after the one `events` names) that add
 * the rollups of newly stored events to the existing ones: the keys that exist
 * are updated, the others inserted by a plain INSERT; when `fresh` (no entity
 * has rollups on the events' days, see rollupsWithinEvents), all of them are
 * inserted with no update or test. Callers hold lockRollups(), so no other
 * transaction adds a key in between.
 *
 * The events must have been checked (every event of a user carries that
 * user's account), as both imports do before merging: the events are then
 * summed once per (user, account, day, activity, module), which are already
 * the user rollups, and the account rollups sum those smaller groups again.
 * Measured on 2M events: 2.6 s against 3.6 s for one aggregate over an
 * account row and a user row per event. Unchecked events could give a user
 * two rows of one key, which the primary key refuses.
 *
 * Measured on 2M events (1.36M new rollup rows): an INSERT ... ON CONFLICT DO
 * UPDATE writes half again as many WAL records (speculative insertion) and
 * took 21-31 s against 13 s for the plain insert. New rows arrive grouped by
 * entity (ordered by a hash of its id), so each entity's keys reach the same
 * few index pages together; sorting by the full text key instead took 11 s
 * of comparisons against under 2 s for the hash, and rows in no order (as a
 * hash aggregate or a MERGE's hash join leave them) took about four times as
 * long to insert.
 */
export function rollupMerge(events: SQL, timezone: string, fresh = false): SQL {
  return sql`roll_events as (
      select e.user_id, e.account_id, (e.occurred_at at time zone ${timezone})::date as day,
             e.activity, coalesce(e.module, '') as module, sum(e.count)::bigint as count
      from ${events} e
      group by 1, 2, 3, 4, 5),
    ${mergeNew(
      sql`
      select 'user' as entity_type, g.user_id as entity_id, g.day, g.activity, g.module, g.count
      from roll_events g where g.user_id is not null
      union all
      select 'account', g.account_id, g.day, g.activity, g.module, sum(g.count)::bigint
      from roll_events g group by g.account_id, g.day, g.activity, g.module`,
      fresh,
    )}`;
}

/**
 * As rollupMerge(), for rollups already summed by the import that streamed
 * the events: `sums` is a table with the columns of activity_daily, its rows
 * in the primary key's order (or at least grouped by entity), which the insert
 * keeps. When `partial`, a key may have several rows, to be added up, and an
 * entity_type of 'user-account' stands for the account of the user entity_id.
 * When `fresh` (no entity has rollups on the sums' days, see rollupsWithin),
 * every key is new and the sums are inserted as they are. Callers hold
 * lockRollups().
 *
 * Otherwise the existing keys are updated first, and only when there were
 * some does the insert of the others test each key again.
 */
export async function mergeRollupSums(
  db: DbOrTx,
  sums: SQL,
  opts: { partial: boolean; fresh: boolean },
): Promise<void> {
  let source = sums;
  if (opts.partial) {
    // Added up once into a table of their own, grouped by entity. (In the
    // key's order instead, the sort took 14.7 s against 5.9 s for 2.3M sums
    // of a day of a 1M-user workspace, and their insert was no faster; for
    // 3.4M sums right after a checkpoint, 15.0 s against 9.7 s, and the
    // insert 38.9 s against 57.8 s. Undecided until measured side by side.)
    source = sql`signaltag_rollup_totals`;
    await db.execute(sql`create temporary table ${source} on commit drop as
      select s.entity_type, s.entity_id, s.day, s.activity, s.module, sum(s.count)::bigint as count
      from (
        select entity_type, entity_id, day, activity, module, count from ${sums} where entity_type <> 'user-account'
        union all
        select 'account', u.account_id, s.day, s.activity, s.module, s.count
        from ${sums} s join users u on u.id = s.entity_id where s.entity_type = 'user-account'
      ) s
      group by 1, 2, 3, 4, 5
      order by hashtext(s.entity_id)`);
  }
  let unseen = sql``;
  if (!opts.fresh) {
    const [updated] = await rows<{ n: number }>(
      db,
      sql`with u as (update activity_daily d set count = d.count + n.count from ${source} n where ${sameKey} returning 1)
          select count(*)::int as n from u`,
    );
    if (Number(updated?.n) > 0)
      unseen = sql`where not exists (select 1 from activity_daily d where ${sameKey})`;
  }
  await db.execute(sql`insert into activity_daily (entity_type, entity_id, day, activity, module, count)
    select n.entity_type, n.entity_id, n.day, n.activity, n.module, n.count from ${source} n ${unseen}`);
}

/**
 * Whether any entity has rollups on a day from `first` to `last` (days since
 * 1970), as the activity summary tells without reading the rollups: each
 * summary spans its entity's first to last active day.
 */
export async function rollupsWithin(db: DbOrTx, first: number, last: number): Promise<boolean> {
  return summaryOverlaps(
    db,
    sql`select date '1970-01-01' + ${first}::int as lo, date '1970-01-01' + ${last}::int as hi`,
  );
}

/** rollupsWithin() for the days of `events` (a relation with occurred_at) in `timezone`. */
export async function rollupsWithinEvents(db: DbOrTx, events: SQL, timezone: string): Promise<boolean> {
  return summaryOverlaps(
    db,
    sql`select min((e.occurred_at at time zone ${timezone})::date) as lo,
               max((e.occurred_at at time zone ${timezone})::date) as hi from ${events} e`,
  );
}

async function summaryOverlaps(db: DbOrTx, range: SQL): Promise<boolean> {
  const [found] = await rows<{ found: boolean }>(
    db,
    sql`select exists (select 1 from activity_summary s, (${range}) r
          where s.first_day <= r.hi and s.last_day >= r.lo) as found`,
  );
  return found?.found === true;
}

/**
 * roll_new (the new rollup rows, one per key), then the update of existing
 * keys and the insert of the others; when `fresh` (no key can exist, see
 * rollupsWithin), the insert of them all.
 */
function mergeNew(rollupRows: SQL, fresh: boolean): SQL {
  const inserted = (unseen: SQL) => sql`roll_inserted as (
      insert into activity_daily (entity_type, entity_id, day, activity, module, count)
      select n.entity_type, n.entity_id, n.day, n.activity, n.module, n.count from roll_new n
      ${unseen}
      order by hashtext(n.entity_id))`;
  if (fresh) return sql`roll_new as (${rollupRows}), ${inserted(sql``)}`;
  return sql`roll_new as (${rollupRows}),
    roll_updated as (
      update activity_daily d set count = d.count + n.count from roll_new n where ${sameKey}),
    ${inserted(sql`where not exists (select 1 from activity_daily d where ${sameKey})`)}`;
}

/**
 * Keeps other writers of the rollups out until this transaction ends (readers
 * are not blocked): rollupMerge() inserts the keys it did not find, which is
 * only safe while no one else can add them.
 */
export async function lockRollups(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`lock table activity_daily in share row exclusive mode`);
}

/**
 * Recomputes every rollup from the raw events (after a bulk load, or a time
 * zone change), in one transaction. The table is emptied first, so the insert
 * needs no upsert, and rows arrive sorted by the primary key so its index
 * grows at the right edge: at 10M events about a quarter of the time of the
 * upserting insert. `workMem` (Postgres only) sizes the sort.
 */
export async function rebuildRollups(
  db: DbOrTx,
  timezone: string,
  opts: { workMem?: string } = {},
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`truncate activity_daily`);
    if (opts.workMem) await tx.execute(sql`select set_config('work_mem', ${opts.workMem}, true)`);
    await tx.execute(sql`set local enable_hashagg = off`);
    await tx.execute(sql`
      insert into activity_daily (entity_type, entity_id, day, activity, module, count)
      ${rollupRows(sql`activity_events`, timezone)}
      order by entity_type, entity_id, day, activity, module`);
  });
}
