import { sql } from "drizzle-orm";
import type { EntityType } from "../../rules/catalog.ts";
import { type DbOrTx, rows } from "../client.ts";

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
  return rows<ClaimView>(
    db,
    sql`select t.name as tag, c.source, c.actor,
          to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as since
        from claims c join tags t on t.id = c.tag_id
        where c.entity_type = ${type} and c.entity_id = ${id}
        order by lower(t.name), c.created_at, c.source`,
  );
}
