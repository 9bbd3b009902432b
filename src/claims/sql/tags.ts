import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { preparedRows } from "../../db/prepared.ts";
import type { EntityType } from "../../facts/catalog.ts";

export interface TagRow {
  id: number;
  name: string;
}

/** The tag with this name, matched case-insensitively, or undefined. */
export async function findTag(db: DbOrTx, name: string): Promise<TagRow | undefined> {
  const [row] = await rows<TagRow>(db, sql`select id, name from tags where lower(name) = lower(${name})`);
  return row;
}

/**
 * The tag with this name, created on first use. An existing tag matches
 * case-insensitively and keeps its original display name.
 */
export async function ensureTag(db: DbOrTx, name: string): Promise<TagRow> {
  await db.execute(sql`insert into tags (name) values (${name}) on conflict ((lower(name))) do nothing`);
  const tag = await findTag(db, name);
  if (!tag) throw new Error(`tag ${name} vanished after insert`);
  return tag;
}

export interface ClaimView {
  tag: string;
  source: string;
  actor: string | null;
  since: string;
}

/** Every claim on one entity, oldest first within each tag. */
export async function entityClaims(db: DbOrTx, type: EntityType, id: string): Promise<ClaimView[]> {
  return preparedRows<ClaimView>(
    db,
    sql`select t.name as tag, c.source, c.actor,
          to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as since
        from claims c join tags t on t.id = c.tag_id
        where c.entity_type = ${type} and c.entity_id = ${id}
        order by lower(t.name), c.created_at, c.source`,
  );
}

export interface TagCounts {
  name: string;
  accounts: number;
  users: number;
  createdAt: string;
}

/** Every tag with how many accounts and users have it now (an entity counts once whatever its claims). */
export async function tagsWithCounts(db: DbOrTx): Promise<TagCounts[]> {
  return rows<TagCounts>(
    db,
    sql`select t.name,
          coalesce(m.accounts, 0)::int as accounts, coalesce(m.users, 0)::int as users,
          to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "createdAt"
        from tags t
        left join (
          -- Each entity once (a claim per source), taken from the claims key in its own order: a
          -- Unique over an index-only scan, not a sort of every claim as count(distinct) does.
          select k.tag_id,
                 count(*) filter (where k.entity_type = 'account') as accounts,
                 count(*) filter (where k.entity_type = 'user') as users
          from (select distinct tag_id, entity_type, entity_id from claims) k group by k.tag_id) m on m.tag_id = t.id
        order by lower(t.name), t.id`,
  );
}

/** Tags by name (matched case-insensitively); names with no tag are absent from the map. */
export async function findTags(db: DbOrTx, names: readonly string[]): Promise<Map<string, TagRow>> {
  const found = new Map<string, TagRow>();
  if (names.length === 0) return found;
  const list = await rows<TagRow & { wanted: string }>(
    db,
    sql`select w.value as wanted, t.id, t.name
        from json_array_elements_text(${JSON.stringify(names)}::json) w
        join tags t on lower(t.name) = lower(w.value)`,
  );
  for (const r of list) found.set(r.wanted, { id: r.id, name: r.name });
  return found;
}
