import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";

/** One (activity, module) pair seen in the rollups: its events and its last day. */
export interface ActivityPairRow {
  activity: string;
  /** Empty for events without a module. */
  module: string;
  events: number;
  last_seen: string;
}

/**
 * Every (activity, module) pair in the rollups with its event count and last
 * day. An account's rollups count every event once (a user's event counts for
 * its account too), so only they are read: one grouped scan, which Postgres
 * runs in parallel; the result has one row per pair, a handful.
 */
export async function activityPairs(db: DbOrTx): Promise<ActivityPairRow[]> {
  return rows<ActivityPairRow>(
    db,
    sql`select activity, module, sum(count)::float8 as events, to_char(max(day), 'YYYY-MM-DD') as last_seen
        from activity_daily where entity_type = 'account'
        group by activity, module`,
  );
}
