import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { preparedRows } from "../../db/prepared.ts";
import type { EntityType } from "../../facts/catalog.ts";

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

/**
 * Adds a claim of `source` for every pair that lacks one, and one `added` tag
 * event per claim actually added (set-based: one statement whatever the
 * count). `membership_changed` is true where no other source claimed the tag.
 * The claim's `since` and its event share one timestamp, taken after the
 * caller's row locks, so history orders like the changes did.
 */
function addClaimsQuery(type: EntityType, source: string, actor: string, note: ChangeNote, pairs: Pairs) {
  return sql`
    with now as (select clock_timestamp() as t),
    ins as (
      insert into claims (source, tag_id, entity_type, entity_id, actor, created_at)
      select ${source}, p.tag_id, ${type}, p.entity_id, ${actor}, (select t from now)
      from (${pairs}) p
      on conflict do nothing
      returning entity_id, tag_id, created_at),
    ev as (
      insert into tag_events (occurred_at, entity_type, entity_id, tag_id, action, source, actor, membership_changed, explanation)
      select ins.created_at, ${type}, ins.entity_id, ins.tag_id, 'added', ${source}, ${actor},
             not exists (select 1 from claims o
                         where o.tag_id = ins.tag_id and o.entity_type = ${type}
                           and o.entity_id = ins.entity_id and o.source <> ${source}),
             ${JSON.stringify(note)}::jsonb
      from ins order by ins.entity_id, ins.tag_id
      returning entity_id, tag_id, source, membership_changed)`;
}

/**
 * Removes every claim (of any source, or of the sources `sourceFilter`
 * admits) on each pair, with one `removed` tag event per claim. When all of
 * an entity's claims on the tag go, the last event of the group carries
 * `membership_changed`.
 */
function removeClaimsQuery(
  type: EntityType,
  actor: string,
  note: ChangeNote,
  pairs: Pairs,
  sourceFilter: SourceFilter = () => sql`true`,
) {
  return sql`
    with now as (select clock_timestamp() as t),
    del as (
      delete from claims c using (select distinct entity_id, tag_id from (${pairs}) q) p
      where c.tag_id = p.tag_id and c.entity_type = ${type} and c.entity_id = p.entity_id and ${sourceFilter(sql`c.source`)}
      returning c.entity_id, c.tag_id, c.source),
    ranked as (
      select d.entity_id, d.tag_id, d.source,
             row_number() over (partition by d.entity_id, d.tag_id order by d.source collate "C" desc) = 1
               and not exists (select 1 from claims o
                               where o.tag_id = d.tag_id and o.entity_type = ${type} and o.entity_id = d.entity_id
                                 and not (${sourceFilter(sql`o.source`)})) as lost
      from del d),
    ev as (
      insert into tag_events (occurred_at, entity_type, entity_id, tag_id, action, source, actor, membership_changed, explanation)
      select (select t from now), ${type}, r.entity_id, r.tag_id, 'removed', r.source, ${actor}, r.lost,
             ${JSON.stringify(note)}::jsonb
      from ranked r order by r.entity_id, r.tag_id, r.source collate "C"
      returning entity_id, tag_id, source, membership_changed)`;
}

const countedColumns = sql`count(*)::int as claims, count(*) filter (where membership_changed)::int as memberships,
  coalesce(array_agg(entity_id order by entity_id) filter (where membership_changed), '{}') as "changedIds"
  from ev`;

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
    sql`${removeClaimsQuery(p.type, p.actor, p.note, p.pairs, p.sourceFilter)}
        select entity_id, tag_id, source, membership_changed from ev order by entity_id, tag_id, source collate "C"`,
  );
}

export async function removeClaimsCounted(
  tx: DbOrTx,
  p: { type: EntityType; actor: string; note: ChangeNote; pairs: Pairs },
): Promise<ChangeCounts> {
  const [row] = await rows<ChangeCounts>(
    tx,
    sql`${removeClaimsQuery(p.type, p.actor, p.note, p.pairs)}
        select ${countedColumns}`,
  );
  return row ?? { claims: 0, memberships: 0, changedIds: [] };
}
