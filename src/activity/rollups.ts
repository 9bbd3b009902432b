import { sql } from "drizzle-orm";
import type { DbOrTx } from "../db/client.ts";

/**
 * The rollup rows an event contributes: one for its account and, when it has
 * a user, one for the user, on the event's calendar day in `timezone`.
 * `events` is a SQL relation with user_id, account_id, activity, module,
 * occurred_at and count columns.
 */
export function rollupInsert(events: ReturnType<typeof sql>, timezone: string) {
  return sql`
    insert into activity_daily (entity_type, entity_id, day, activity, module, count)
    select entity_type, entity_id, day, activity, module, sum(count)::bigint
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
    group by entity_type, entity_id, day, activity, module
    on conflict (entity_type, entity_id, day, activity, module)
    do update set count = activity_daily.count + excluded.count`;
}

/** Recomputes every rollup from the raw events (after a bulk load, or a time zone change). */
export async function rebuildRollups(db: DbOrTx, timezone: string): Promise<void> {
  await db.execute(sql`truncate activity_daily`);
  await db.execute(rollupInsert(sql`activity_events`, timezone));
}
