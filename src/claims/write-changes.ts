import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../db/client.ts";
import { preparedRows } from "../db/prepared.ts";
import type { EntityType } from "../facts/catalog.ts";
import { addClaimsQuery, removeClaimsQuery } from "./sql/write-changes.ts";

/**
 * The one writer of claim changes and their tag events (the statements are
 * in sql/write-changes.ts). People's changes are written by the functions
 * here; a rule run embeds claimChangeWrites in its own statement.
 */
export { claimChangeWrites } from "./sql/write-changes.ts";

/** Why a person's change happened, stored with its tag events. */
export interface ChangeNote {
  reason: string;
  [key: string]: unknown;
}

/**
 * A set of (entity_id, tag_id) pairs as SQL, e.g.
 * sql`select entity_id, ${tagId}::int as tag_id from bulk_ids`.
 */
export type Pairs = SQL;

export interface ChangedClaim {
  entity_id: string;
  tag_id: number;
  source: string;
  membership_changed: boolean;
}

export interface ChangeCounts {
  claims: number;
  /** Entities that gained (or lost) the tag itself. */
  memberships: number;
  /** Those entities' ids. */
  changedIds: string[];
}

/** Which claims a removal takes, given the SQL of a claim's source column. */
export type SourceFilter = (source: SQL) => SQL;

/** Every id of a temporary id table (see createIdTable) paired with one tag. */
export function idTablePairs(idTable: string, tagId: number): Pairs {
  return sql`select entity_id, ${tagId}::int as tag_id from ${sql.identifier(idTable)}`;
}

export function singlePair(entityId: string, tagId: number): Pairs {
  return sql`select ${entityId}::text as entity_id, ${tagId}::int as tag_id`;
}

/** One entity paired with each of several tags (a profile's Save). */
export function entityTagPairs(entityId: string, tagIds: readonly number[]): Pairs {
  return sql`select ${entityId}::text as entity_id, v.tag_id
             from (values ${sql.join(
               tagIds.map((t) => sql`(${t}::int)`),
               sql`, `,
             )}) v(tag_id)`;
}

const everySource: SourceFilter = () => sql`true`;

const countedColumns = sql`count(*)::int as claims, count(*) filter (where membership_changed)::int as memberships,
  coalesce(array_agg(entity_id order by entity_id) filter (where membership_changed), '{}') as "changedIds"
  from ev`;

/**
 * Adds a claim of `source` on every pair that lacks one, with a tag event
 * for each claim added; returns those claims.
 */
export async function addClaims(
  tx: DbOrTx,
  p: { type: EntityType; source: string; actor: string; note: ChangeNote; pairs: Pairs; prepare?: boolean },
): Promise<ChangedClaim[]> {
  return (p.prepare ? preparedRows : rows)<ChangedClaim>(
    tx,
    sql`${addClaimsQuery(p.type, p.source, p.actor, p.note, p.pairs)}
        select entity_id, tag_id, source, membership_changed from ev order by entity_id, tag_id`,
  );
}

/** addClaims for many pairs: the counts only. */
export async function addClaimsCounted(
  tx: DbOrTx,
  p: { type: EntityType; source: string; actor: string; note: ChangeNote; pairs: Pairs },
): Promise<ChangeCounts> {
  const [row] = await rows<ChangeCounts>(
    tx,
    sql`${addClaimsQuery(p.type, p.source, p.actor, p.note, p.pairs)}
        select ${countedColumns}`,
  );
  return row ?? { claims: 0, memberships: 0, changedIds: [] };
}

/**
 * Removes every claim on each pair (of any source, or of those `sourceFilter`
 * admits), with a tag event for each; returns the claims removed.
 */
export async function removeClaims(
  tx: DbOrTx,
  p: {
    type: EntityType;
    actor: string;
    note: ChangeNote;
    pairs: Pairs;
    sourceFilter?: SourceFilter;
    /** Run as a prepared statement: only for pairs whose SQL text is fixed (singlePair). */
    prepare?: boolean;
  },
): Promise<ChangedClaim[]> {
  return (p.prepare ? preparedRows : rows)<ChangedClaim>(
    tx,
    sql`${removeClaimsQuery(p.type, p.actor, p.note, p.pairs, p.sourceFilter ?? everySource)}
        select entity_id, tag_id, source, membership_changed from ev order by entity_id, tag_id, source collate "C"`,
  );
}

/** removeClaims for many pairs, of every source: the counts only. */
export async function removeClaimsCounted(
  tx: DbOrTx,
  p: { type: EntityType; actor: string; note: ChangeNote; pairs: Pairs },
): Promise<ChangeCounts> {
  const [row] = await rows<ChangeCounts>(
    tx,
    sql`${removeClaimsQuery(p.type, p.actor, p.note, p.pairs, everySource)}
        select ${countedColumns}`,
  );
  return row ?? { claims: 0, memberships: 0, changedIds: [] };
}
