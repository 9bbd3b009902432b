import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";

/**
 * Recomputes activity_daily from every raw event: the same rows as
 * `rebuildRollups` in src/activity/rollups.ts (the seed tests hold the two
 * equal), built the way a bulk load wants. The table is emptied first, so no
 * row can conflict and the insert needs no ON CONFLICT; one sort feeds a
 * group aggregate whose output arrives in primary-key order, so the index
 * grows at its right edge. At 10M events and 16M rollup rows on Postgres this
 * takes about a quarter of the time of the upserting insert.
 */
export async function rebuildRollupsInBulk(database: Database, timezone: string): Promise<void> {
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`truncate activity_daily`);
    if (database.kind === "postgres") {
      // Session memory for this statement only; the embedded database keeps its small defaults.
      await tx.execute(sql`set local work_mem = '256MB'`);
    }
    await tx.execute(sql`set local enable_hashagg = off`);
    await tx.execute(sql`
      insert into activity_daily (entity_type, entity_id, day, activity, module, count)
      select entity_type, entity_id, day, activity, module, sum(count)::bigint
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
  });
}
