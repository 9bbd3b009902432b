import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { inTransaction } from "../../db/transaction.ts";

export interface SubscriptionRow {
  id: number;
  url: string;
  events: string[];
  tags: string[] | null;
  entity_type: "user" | "account" | null;
  sources: string[] | null;
  enabled: boolean;
  secret: string;
  max_in_flight: number;
  rate_per_second: number | null;
  disabled_reason: string | null;
  created_by: string | null;
  created_at: string | Date;
}

const columns = sql`id, url, events, tags, entity_type, sources, enabled, secret, max_in_flight,
  rate_per_second, disabled_reason, created_by, created_at`;

/** A text[] parameter as an array literal (each element quoted, `"` and `\\` escaped), the same on both drivers. */
function textArray(values: string[] | null) {
  if (values === null) return sql`null::text[]`;
  const literal = `{${values.map((v) => `"${v.replace(/["\\]/g, "\\$&")}"`).join(",")}}`;
  return sql`${literal}::text[]`;
}

export async function insertSubscription(
  db: DbOrTx,
  s: {
    url: string;
    events: string[];
    tags: string[] | null;
    entityType: string | null;
    sources: string[] | null;
    secret: string;
    maxInFlight: number;
    ratePerSecond: number | null;
    createdBy: string | null;
  },
): Promise<SubscriptionRow> {
  const [row] = await rows<SubscriptionRow>(
    db,
    sql`insert into webhook_subscriptions (url, events, tags, entity_type, sources, secret, max_in_flight, rate_per_second, created_by)
        values (${s.url}, ${textArray(s.events)}, ${textArray(s.tags)}, ${s.entityType}, ${textArray(s.sources)},
                ${s.secret}, ${s.maxInFlight}, ${s.ratePerSecond}, ${s.createdBy})
        returning ${columns}`,
  );
  return row!;
}

export async function selectSubscriptions(db: DbOrTx, id?: number): Promise<SubscriptionRow[]> {
  return rows<SubscriptionRow>(
    db,
    sql`select ${columns} from webhook_subscriptions ${id === undefined ? sql`` : sql`where id = ${id}`} order by id`,
  );
}

export async function updateEnabled(
  db: DbOrTx,
  id: number,
  enabled: boolean,
  reason: string | null,
): Promise<SubscriptionRow | undefined> {
  const [row] = await rows<SubscriptionRow>(
    db,
    sql`update webhook_subscriptions set enabled = ${enabled}, disabled_reason = ${reason}
        where id = ${id} returning ${columns}`,
  );
  return row;
}

export async function deleteSubscription(
  db: DbOrTx,
  id: number,
): Promise<{ deliveries: number } | undefined> {
  return inTransaction(db, async (tx) => {
    const [gone] = await rows<{ id: number }>(
      tx,
      sql`delete from webhook_subscriptions where id = ${id} returning id`,
    );
    if (!gone) return undefined;
    const [d] = await rows<{ n: number }>(
      tx,
      sql`with d as (delete from webhook_deliveries where subscription_id = ${id} returning 1) select count(*)::int as n from d`,
    );
    return { deliveries: d?.n ?? 0 };
  });
}
