import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import { entityTable } from "../../facts/sql/entities.ts";

/** One "Tagged with" / "Is not tagged" test; tagId undefined for a tag that does not exist. */
export interface TagCriterion {
  tagId: number | undefined;
  tagged: boolean;
}

export interface TagFilter {
  type: EntityType;
  criteria: TagCriterion[];
  /** all: every criterion holds; any: at least one does. No criteria: every entity. */
  match: "all" | "any";
}

function hasTag(type: EntityType, tagId: number): SQL {
  return sql`exists (select 1 from claims c where c.entity_type = ${type} and c.entity_id = e.id and c.tag_id = ${tagId})`;
}

function predicate(filter: TagFilter): SQL {
  if (filter.criteria.length === 0) return sql`true`;
  const parts = filter.criteria.map((c) => {
    // Nobody has a tag that does not exist.
    if (c.tagId === undefined) return c.tagged ? sql`false` : sql`true`;
    return c.tagged ? hasTag(filter.type, c.tagId) : sql`not ${hasTag(filter.type, c.tagId)}`;
  });
  return sql`(${sql.join(parts, filter.match === "all" ? sql` and ` : sql` or `)})`;
}

/** Ids of the entities the tag filter selects, after a key, in id order. */
export async function segmentIds(
  db: DbOrTx,
  filter: TagFilter,
  p: { after?: string; limit: number },
): Promise<string[]> {
  const found = await rows<{ id: string }>(
    db,
    sql`select e.id from ${entityTable(filter.type)} e
        where ${predicate(filter)} ${p.after === undefined ? sql`` : sql`and e.id > ${p.after}`}
        order by e.id limit ${p.limit}`,
  );
  return found.map((r) => r.id);
}

export async function segmentCount(db: DbOrTx, filter: TagFilter): Promise<number> {
  const [row] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from ${entityTable(filter.type)} e where ${predicate(filter)}`,
  );
  return row?.n ?? 0;
}

const iso = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

export interface SegmentUserRow {
  id: string;
  accountId: string;
  email: string | null;
  name: string | null;
  createdAt: string;
  tags: string[];
}

export interface SegmentAccountRow {
  id: string;
  name: string | null;
  provisionedAt: string;
  contractStatus: string | null;
  renewalDate: string | null;
  healthScore: number | null;
  health: string | null;
  tags: string[];
}

/** The listed entities' fields and tag names, in id order. */
export async function segmentRows(
  db: DbOrTx,
  type: EntityType,
  ids: readonly string[],
): Promise<(SegmentUserRow | SegmentAccountRow)[]> {
  if (ids.length === 0) return [];
  const tags = sql`coalesce((select array_agg(distinct t.name) from claims c join tags t on t.id = c.tag_id
                             where c.entity_type = ${type} and c.entity_id = e.id), '{}') as tags`;
  const list = sql`(select value from json_array_elements_text(${JSON.stringify(ids)}::json))`;
  if (type === "user") {
    return rows<SegmentUserRow>(
      db,
      sql`select e.id, e.account_id as "accountId", e.email, e.name, ${iso("e.created_at")} as "createdAt", ${tags}
          from users e where e.id in ${list} order by e.id`,
    );
  }
  return rows<SegmentAccountRow>(
    db,
    sql`select e.id, e.name, ${iso("e.provisioned_at")} as "provisionedAt", e.contract_status as "contractStatus",
          e.renewal_date::text as "renewalDate", e.health_score::float8 as "healthScore", e.health, ${tags}
        from accounts e where e.id in ${list} order by e.id`,
  );
}
