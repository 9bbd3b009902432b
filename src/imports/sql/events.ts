import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { duplicateIds, quoted, type TouchedRow } from "./shared.ts";

/* The statements of the events import's exact path (staged rows) other than the rollups'. */

const COLUMNS = sql`event_id, user_id, account_id, activity, module, occurred_at, count`;

/**
 * (line, message) for staged events that name an unknown user or account,
 * or a user of another account, and (with event_ids) for repeated event_ids.
 */
export function badEventRows(staging: SQL, withEventIds: boolean): SQL {
  const duplicates: SQL = withEventIds ? sql`union all ${duplicateIds(staging, "event_id")}` : sql``;
  return sql`select s.line,
          case when u.id is null then 'unknown user ' || ${quoted(sql`s.user_id`)} || ' (import the user first)'
          else 'user ' || ${quoted(sql`s.user_id`)} || ' belongs to account ' || ${quoted(sql`u.account_id`)}
               || ', not ' || ${quoted(sql`s.account_id`)} end as message
        from ${staging} s left join users u on u.id = s.user_id
        where s.user_id is not null and (u.id is null or u.account_id <> s.account_id)
        union all
        select s.line, 'unknown account ' || ${quoted(sql`s.account_id`)} || ' (import the account first)'
        from ${staging} s
        where s.user_id is null and not exists (select 1 from accounts a where a.id = s.account_id)
        ${duplicates}`;
}

/** Gives the staged events that leave account_id empty their user's account. */
export async function fillStagedAccounts(tx: DbOrTx, staging: SQL): Promise<void> {
  await tx.execute(
    sql`update ${staging} s set account_id = u.account_id
        from users u where s.account_id is null and u.id = s.user_id`,
  );
}

/**
 * The touched-ids rows (TouchedRow) of `events`: its accounts and its users,
 * at most limit + 1 of each. They come from the events themselves: a
 * RETURNING on the rollups' writes would materialize every rollup row just to
 * find them.
 */
function touchedIn(events: SQL, limit: number): SQL {
  return sql`
        (select 'account' as kind, account_id as id, null::int as a, null::int as b
         from (select distinct account_id from ${events}) t limit ${limit + 1})
        union all
        (select 'user', user_id, null, null
         from (select distinct user_id from ${events} where user_id is not null) t limit ${limit + 1})`;
}

/** The events insertNewEvents() inserted, by name. */
export const INSERTED = sql`ins`;

/**
 * A common table expression, INSERTED, that inserts the staged events whose
 * event_id is not stored yet and returns them (the rollups then read only
 * the rows actually inserted).
 */
export function insertNewEvents(staging: SQL): SQL {
  return sql`${INSERTED} as (
            insert into activity_events (${COLUMNS}) select ${COLUMNS} from ${staging}
            on conflict (event_id) where event_id is not null do nothing
            returning user_id, account_id, activity, module, occurred_at, count
          )`;
}

/**
 * After insertNewEvents(), in its statement: a 'count' row (a: events
 * inserted, b: events staged), then the touched ids of the inserted events.
 */
export function countsAndTouchedOfInserted(staging: SQL, limit: number): SQL {
  return sql`
          select 'count' as kind, null::text as id, (select count(*) from ${INSERTED})::int as a,
                 (select count(*) from ${staging})::int as b
          union all ${touchedIn(INSERTED, limit)}`;
}

/** Inserts every staged event: a plain insert, no speculative insertion. */
export async function insertStagedEvents(tx: DbOrTx, staging: SQL): Promise<void> {
  await tx.execute(sql`insert into activity_events (${COLUMNS}) select ${COLUMNS} from ${staging}`);
}

/** A 'count' row (a and b: events staged), then the touched ids of the staged events. */
export async function countsAndTouchedOfStaged(
  tx: DbOrTx,
  staging: SQL,
  limit: number,
): Promise<TouchedRow[]> {
  return rows<TouchedRow>(
    tx,
    sql`select 'count' as kind, null::text as id, count(*)::int as a, count(*)::int as b from ${staging}
          union all ${touchedIn(staging, limit)}`,
  );
}
