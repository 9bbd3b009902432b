import { type SQL, sql } from "drizzle-orm";
import type { EntityType } from "../../rules/catalog.ts";
import type { DailyActivity, EntityInput, FactRequest } from "../../rules/facts.ts";
import { widestWindow } from "../../rules/facts.ts";
import { addDays } from "../../rules/time.ts";
import { type DbOrTx, rows } from "../client.ts";

/** Which entities a batch covers: the next page after a key, or given ids. */
export type EntitySelection = { after: string | null; limit: number } | { ids: string[] };

export interface FactContext {
  type: EntityType;
  asOf: Date;
  today: string;
  timezone: string;
  requests: FactRequest[];
}

function needs(requests: FactRequest[], ...facts: string[]): boolean {
  return requests.some((r) => facts.includes(r.fact));
}

/**
 * Loads one batch of entities with everything their facts are computed from,
 * in a fixed number of set-based queries whatever the batch size. Entities
 * created after the as-of instant did not exist then and are not returned.
 */
export async function loadEntityBatch(
  db: DbOrTx,
  ctx: FactContext,
  selection: EntitySelection,
): Promise<EntityInput[]> {
  const asOf = ctx.asOf.toISOString();
  const table = ctx.type === "user" ? sql`users` : sql`accounts`;
  const createdCol = ctx.type === "user" ? sql`e.created_at` : sql`e.provisioned_at`;
  const page =
    "ids" in selection
      ? sql`e.id in ${selection.ids.length ? selection.ids : [""]} order by e.id`
      : selection.after === null
        ? sql`true order by e.id limit ${selection.limit}`
        : sql`e.id > ${selection.after} order by e.id limit ${selection.limit}`;
  const accountJson =
    ctx.type === "user" && needs(ctx.requests, "account")
      ? sql`(select jsonb_build_object('id', a.id, 'name', a.name, 'contractStatus', a.contract_status,
              'health', a.health, 'healthScore', a.health_score, 'renewalDate', a.renewal_date,
              'provisionedAt', a.provisioned_at, 'attributes', a.attributes)
             from accounts a where a.id = e.account_id)`
      : sql`null::jsonb`;
  const accountFields =
    ctx.type === "account"
      ? sql`e.contract_status, e.health, e.health_score::float8 as health_score, e.renewal_date::text as renewal_date`
      : sql`null as contract_status, null as health, null::float8 as health_score, null::text as renewal_date`;
  const base = await rows<{
    id: string;
    created_day: string;
    attributes: Record<string, unknown> | null;
    account: Record<string, unknown> | null;
    contract_status: string | null;
    health: string | null;
    health_score: number | null;
    renewal_date: string | null;
  }>(
    db,
    sql`select e.id, to_char(${createdCol} at time zone ${ctx.timezone}, 'YYYY-MM-DD') as created_day,
          e.attributes, ${accountJson} as account, ${accountFields}
        from ${table} e
        where ${createdCol} <= ${asOf}::timestamptz and ${page}`,
  );
  if (base.length === 0) return [];

  const entities = new Map<string, EntityInput>();
  for (const r of base) {
    entities.set(r.id, {
      id: r.id,
      type: ctx.type,
      createdDay: r.created_day,
      attributes: r.attributes ?? {},
      activity: [],
      lastActiveDay: null,
      tags: [],
      contractStatus: r.contract_status,
      health: r.health,
      healthScore: r.health_score,
      renewalDate: r.renewal_date,
      account: r.account ?? undefined,
      userCount: 0,
      activeUserDays: [],
    });
  }
  const ids = base.map((r) => r.id);
  const first = ids[0] as string;
  const last = ids[ids.length - 1] as string;
  // A key range covers the batch with one index range scan; explicit ids otherwise.
  const inBatch = (col: SQL) =>
    "ids" in selection ? sql`${col} in ${ids}` : sql`${col} >= ${first} and ${col} <= ${last}`;
  const type = ctx.type;
  const widest = widestWindow(ctx.requests);
  const windowStart = addDays(ctx.today, -widest);

  const work: Promise<void>[] = [];
  if (widest > 0 && needs(ctx.requests, "activeDays", "eventCount", "modulesUsed")) {
    work.push(
      rows<{ entity_id: string } & DailyActivity>(
        db,
        sql`select entity_id, day::text as day, activity, module, count::float8 as count
            from activity_daily
            where entity_type = ${type} and ${inBatch(sql`entity_id`)}
              and day > ${windowStart}::date and day <= ${ctx.today}::date`,
      ).then((found) => {
        for (const r of found) {
          entities
            .get(r.entity_id)
            ?.activity.push({ day: r.day, activity: r.activity, module: r.module, count: r.count });
        }
      }),
    );
  }
  if (needs(ctx.requests, "daysSinceLastActive")) {
    work.push(
      rows<{ entity_id: string; last_day: string }>(
        db,
        sql`select entity_id, max(day)::text as last_day
            from activity_daily
            where entity_type = ${type} and ${inBatch(sql`entity_id`)} and day <= ${ctx.today}::date
            group by entity_id`,
      ).then((found) => {
        for (const r of found) {
          const e = entities.get(r.entity_id);
          if (e) e.lastActiveDay = r.last_day;
        }
      }),
    );
  }
  if (type === "account" && needs(ctx.requests, "activeUsers") && widest > 0) {
    work.push(
      rows<{ account_id: string; last_day: string }>(
        db,
        sql`select u.account_id, max(d.day)::text as last_day
            from users u
            join activity_daily d on d.entity_type = 'user' and d.entity_id = u.id
              and d.day > ${windowStart}::date and d.day <= ${ctx.today}::date
            where ${inBatch(sql`u.account_id`)} and u.created_at <= ${asOf}::timestamptz
            group by u.account_id, u.id`,
      ).then((found) => {
        for (const r of found) entities.get(r.account_id)?.activeUserDays?.push(r.last_day);
      }),
    );
  }
  if (type === "account" && needs(ctx.requests, "userCount")) {
    work.push(
      rows<{ account_id: string; n: number }>(
        db,
        sql`select account_id, count(*)::int as n from users u
            where ${inBatch(sql`u.account_id`)} and u.created_at <= ${asOf}::timestamptz
            group by account_id`,
      ).then((found) => {
        for (const r of found) {
          const e = entities.get(r.account_id);
          if (e) e.userCount = r.n;
        }
      }),
    );
  }
  if (needs(ctx.requests, "tags")) {
    work.push(
      rows<{ entity_id: string; names: string[] }>(
        db,
        sql`select c.entity_id, array_agg(distinct t.name) as names
            from claims c join tags t on t.id = c.tag_id
            where c.entity_type = ${type} and ${inBatch(sql`c.entity_id`)}
            group by c.entity_id`,
      ).then((found) => {
        for (const r of found) {
          const e = entities.get(r.entity_id);
          if (e) e.tags = r.names;
        }
      }),
    );
  }
  // Drivers queue queries on one connection, so these may overlap inside a transaction too.
  for (const w of work) await w;
  return [...entities.values()];
}

/** How many entities of a type existed at the as-of instant (for progress). */
export async function countEntities(db: DbOrTx, type: EntityType, asOf: Date): Promise<number> {
  const query =
    type === "user"
      ? sql`select count(*)::int as n from users where created_at <= ${asOf.toISOString()}::timestamptz`
      : sql`select count(*)::int as n from accounts where provisioned_at <= ${asOf.toISOString()}::timestamptz`;
  const [row] = await rows<{ n: number }>(db, query);
  return row?.n ?? 0;
}
