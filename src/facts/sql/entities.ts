import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { preparedRows } from "../../db/prepared.ts";
import type { EntityType } from "../catalog.ts";

export function entityTable(type: EntityType): SQL {
  return type === "user" ? sql`users` : sql`accounts`;
}

/**
 * The column that says when an entity came into existence (a user's
 * created_at, an account's provisioned_at), qualified by `alias` when given:
 * an entity exists as of an instant when it is at or before that instant.
 */
export function createdColumn(type: EntityType, alias?: string): SQL {
  const column = type === "user" ? "created_at" : "provisioned_at";
  return sql.raw(alias ? `${alias}.${column}` : column);
}

/** One parameter carrying a whole list, so 100,000 ids are one bind value and not 100,000. */
function jsonList(values: readonly unknown[]): SQL {
  return sql`${JSON.stringify(values)}::json`;
}

/**
 * Locks one entity's row for the rest of the transaction and says whether it
 * exists. Every change to an entity's claims by hand takes this lock first, so
 * concurrent changes to one entity are serialized and each tag event's
 * `membership_changed` is exact.
 */
export async function lockEntity(tx: DbOrTx, type: EntityType, id: string): Promise<boolean> {
  const found = await rows<{ id: string }>(
    tx,
    sql`select id from ${entityTable(type)} where id = ${id} for no key update`,
  );
  return found.length > 0;
}

/** Whether an entity exists (a plain read that never blocks writers). */
export async function entityExists(db: DbOrTx, type: EntityType, id: string): Promise<boolean> {
  const found = await rows<{ id: string }>(db, sql`select id from ${entityTable(type)} where id = ${id}`);
  return found.length > 0;
}

/**
 * Creates a temporary table `name (entity_id text primary key)` for this
 * transaction, filled with the distinct ids. Returns how many distinct ids it holds.
 */
export async function createIdTable(tx: DbOrTx, name: string, ids: readonly string[]): Promise<number> {
  const table = sql.identifier(name);
  await tx.execute(sql`create temp table ${table} (entity_id text primary key) on commit drop`);
  const inserted = await rows<{ n: number }>(
    tx,
    sql`with ins as (
          insert into ${table} (entity_id)
          select value from json_array_elements_text(${jsonList(ids)}) on conflict do nothing
          returning 1)
        select count(*)::int as n from ins`,
  );
  await tx.execute(sql`analyze ${table}`);
  return inserted[0]?.n ?? 0;
}

/** Ids of an id table that name no entity of the type, sorted. */
export async function unknownIds(tx: DbOrTx, type: EntityType, idTable: string): Promise<string[]> {
  const found = await rows<{ entity_id: string }>(
    tx,
    sql`select b.entity_id from ${sql.identifier(idTable)} b
        where not exists (select 1 from ${entityTable(type)} e where e.id = b.entity_id)
        order by b.entity_id`,
  );
  return found.map((r) => r.entity_id);
}

/** Locks the rows of every entity in an id table, in id order so two bulk changes never deadlock. */
export async function lockEntities(tx: DbOrTx, type: EntityType, idTable: string): Promise<void> {
  await tx.execute(
    sql`with locked as (
          select e.id from ${entityTable(type)} e
          where e.id in (select entity_id from ${sql.identifier(idTable)})
          order by e.id for no key update)
        select count(*) from locked`,
  );
}

/**
 * lockEntity and a case-insensitive tag lookup in one round trip: the hot
 * path of tagging one entity by hand. `tag` is undefined when no tag has the name.
 */
export async function lockEntityFindTag(
  tx: DbOrTx,
  type: EntityType,
  id: string,
  tagName: string,
): Promise<{ found: boolean; tag?: { id: number; name: string } }> {
  const [row] = await preparedRows<{ found: boolean; tag_id: number | null; tag_name: string | null }>(
    tx,
    sql`with locked as (select id from ${entityTable(type)} where id = ${id} for no key update)
        select exists (select 1 from locked) as found, t.id as tag_id, t.name as tag_name
        from (select 1) one left join tags t on lower(t.name) = lower(${tagName})`,
  );
  return {
    found: row?.found === true,
    ...(row?.tag_id != null ? { tag: { id: row.tag_id, name: row.tag_name! } } : {}),
  };
}
