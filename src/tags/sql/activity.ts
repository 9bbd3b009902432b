import { sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client.ts";
import { preparedRows as rows } from "../../db/prepared.ts";
import type { EntityType } from "../../facts/catalog.ts";

/** Events per calendar day of one entity from `from` to `to` (inclusive), days without events absent. */
export async function dailyTotals(
  db: DbOrTx,
  p: { type: EntityType; id: string; from: string; to: string },
): Promise<{ day: string; events: number }[]> {
  return rows(
    db,
    sql`select day::text as day, sum(count)::float8 as events from activity_daily
        where entity_type = ${p.type} and entity_id = ${p.id} and day between ${p.from}::date and ${p.to}::date
        group by day order by day`,
  );
}
