import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { preparedRows } from "../../db/prepared.ts";
import type { EntityType } from "../catalog.ts";
import type { FactRequest } from "../compute.ts";
import { widestWindow } from "../compute.ts";
import type { DailyActivity, EntityInput } from "../fact.ts";
import { addDays } from "../time.ts";
import { createdColumn, entityTable } from "./entities.ts";

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
 * Given ids (single-entity re-evaluation) are sent all at once as prepared
 * statements with the ids in one parameter: one round trip on Postgres. A
 * key range first finds its entities, then covers them with range scans.
 */
export async function loadEntityBatch(
  db: DbOrTx,
  ctx: FactContext,
  selection: EntitySelection,
): Promise<EntityInput[]> {
  const asOf = ctx.asOf.toISOString();
  const table = entityTable(ctx.type);
  const createdCol = createdColumn(ctx.type, "e");
  const given =
    "ids" in selection
      ? sql`array(select jsonb_array_elements_text(${JSON.stringify(selection.ids)}::jsonb))`
      : undefined;
  const page =
    "ids" in selection
      ? sql`e.id = any(${given}) order by e.id`
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
  const baseQuery = sql`select e.id, to_char(${createdCol} at time zone ${ctx.timezone}, 'YYYY-MM-DD') as created_day,
          e.attributes, ${accountJson} as account, ${accountFields}
        from ${table} e
        where ${createdCol} <= ${asOf}::timestamptz and ${page}`;

  // Ids that name no entity (or one created later) have no base row; their detail rows are ignored.
  let base: BaseRow[];
  let details: { apply: Detail["apply"]; found: unknown[] }[];
  if (given) {
    const queries = detailQueries(ctx, (col) => sql`${col} = any(${given})`);
    const [found, ...more] = await Promise.all([
      preparedRows<BaseRow>(db, baseQuery),
      ...queries.map((q) => preparedRows(db, q.query)),
    ]);
    base = found;
    details = queries.map((q, i) => ({ apply: q.apply, found: more[i]! }));
  } else {
    base = await rows<BaseRow>(db, baseQuery);
    if (base.length === 0) return [];
    const first = base[0]!.id;
    const last = base[base.length - 1]!.id;
    // A key range covers the batch with one index range scan per query.
    const queries = detailQueries(ctx, (col) => sql`${col} >= ${first} and ${col} <= ${last}`);
    // Drivers queue queries on one connection, so these may overlap inside a transaction too.
    const more = await Promise.all(queries.map((q) => rows(db, q.query)));
    details = queries.map((q, i) => ({ apply: q.apply, found: more[i]! }));
  }
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
  for (const d of details) d.apply(entities, d.found);
  return [...entities.values()];
}

interface BaseRow {
  id: string;
  created_day: string;
  attributes: Record<string, unknown> | null;
  account: Record<string, unknown> | null;
  contract_status: string | null;
  health: string | null;
  health_score: number | null;
  renewal_date: string | null;
}

interface Detail {
  query: SQL;
  /** Puts the query's rows into the entities (rows of other ids are ignored). */
  apply: (entities: Map<string, EntityInput>, found: unknown[]) => void;
}

function detail<T>(query: SQL, each: (entities: Map<string, EntityInput>, r: T) => void): Detail {
  return {
    query,
    apply: (entities, found) => {
      for (const r of found) each(entities, r as T);
    },
  };
}

/** The queries a batch's facts need besides the entities' own rows, over the entities `inBatch` selects. */
function detailQueries(ctx: FactContext, inBatch: (col: SQL) => SQL): Detail[] {
  const asOf = ctx.asOf.toISOString();
  const type = ctx.type;
  const widest = widestWindow(ctx.requests);
  const windowStart = addDays(ctx.today, -widest);
  const out: Detail[] = [];
  if (widest > 0 && needs(ctx.requests, "activeDays", "eventCount", "modulesUsed")) {
    out.push(
      detail<{ entity_id: string } & DailyActivity>(
        sql`select entity_id, day::text as day, activity, module, count::float8 as count
            from activity_daily
            where entity_type = ${type} and ${inBatch(sql`entity_id`)}
              and day > ${windowStart}::date and day <= ${ctx.today}::date`,
        (entities, r) =>
          entities
            .get(r.entity_id)
            ?.activity.push({ day: r.day, activity: r.activity, module: r.module, count: r.count }),
      ),
    );
  }
  if (needs(ctx.requests, "daysSinceLastActive")) {
    out.push(
      detail<{ entity_id: string; last_day: string }>(
        sql`select entity_id, max(day)::text as last_day
            from activity_daily
            where entity_type = ${type} and ${inBatch(sql`entity_id`)} and day <= ${ctx.today}::date
            group by entity_id`,
        (entities, r) => {
          const e = entities.get(r.entity_id);
          if (e) e.lastActiveDay = r.last_day;
        },
      ),
    );
  }
  if (type === "account" && needs(ctx.requests, "activeUsers") && widest > 0) {
    out.push(
      detail<{ account_id: string; last_day: string }>(
        sql`select u.account_id, max(d.day)::text as last_day
            from users u
            join activity_daily d on d.entity_type = 'user' and d.entity_id = u.id
              and d.day > ${windowStart}::date and d.day <= ${ctx.today}::date
            where ${inBatch(sql`u.account_id`)} and u.created_at <= ${asOf}::timestamptz
            group by u.account_id, u.id`,
        (entities, r) => entities.get(r.account_id)?.activeUserDays?.push(r.last_day),
      ),
    );
  }
  if (type === "account" && needs(ctx.requests, "userCount")) {
    out.push(
      detail<{ account_id: string; n: number }>(
        sql`select account_id, count(*)::int as n from users u
            where ${inBatch(sql`u.account_id`)} and u.created_at <= ${asOf}::timestamptz
            group by account_id`,
        (entities, r) => {
          const e = entities.get(r.account_id);
          if (e) e.userCount = r.n;
        },
      ),
    );
  }
  if (needs(ctx.requests, "tags")) {
    out.push(
      detail<{ entity_id: string; names: string[] }>(
        sql`select c.entity_id, array_agg(distinct t.name) as names
            from claims c join tags t on t.id = c.tag_id
            where c.entity_type = ${type} and ${inBatch(sql`c.entity_id`)}
            group by c.entity_id`,
        (entities, r) => {
          const e = entities.get(r.entity_id);
          if (e) e.tags = r.names;
        },
      ),
    );
  }
  return out;
}

/** How many entities of a type existed at the as-of instant (for progress). */
export async function countEntities(db: DbOrTx, type: EntityType, asOf: Date): Promise<number> {
  const table = entityTable(type);
  const created = createdColumn(type);
  const [row] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from ${table} where ${created} <= ${asOf.toISOString()}::timestamptz`,
  );
  return row?.n ?? 0;
}
