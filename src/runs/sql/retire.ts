import { sql } from "drizzle-orm";
import { claimChangeWrites } from "../../claims/write-changes.ts";
import { type DbOrTx, rows, type Tx } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import type { RuleDefinition } from "../../rules/types.ts";

/** A rule's claims on one tag and entity type, and how many of those entities no other source claims. */
export interface ClaimGroup {
  tag_id: number;
  tag: string;
  entity_type: EntityType;
  claims: number;
  /** Entities that lose the tag itself when the rule's claims go. */
  losing: number;
}

/**
 * Every claim of `source`, grouped by tag and entity type. Read by source over
 * the whole table rather than through the tags the rule's versions named: a
 * retirement must not leave a claim behind, and it is an occasional act.
 */
export async function claimGroupsOf(db: DbOrTx, source: string): Promise<ClaimGroup[]> {
  return rows<ClaimGroup>(
    db,
    sql`select k.tag_id, t.name as tag, k.entity_type, count(*)::int as claims,
               count(*) filter (where not exists (
                 select 1 from claims o
                 where o.tag_id = k.tag_id and o.entity_type = k.entity_type and o.entity_id = k.entity_id
                   and o.source <> k.source))::int as losing
        from claims k join tags t on t.id = k.tag_id
        where k.source = ${source}
        group by k.tag_id, t.name, k.entity_type
        order by t.name, k.entity_type`,
  );
}

/** The rule's latest version as recorded by a sync or a run, when its file is gone. */
export async function latestRuleVersion(
  db: DbOrTx,
  ruleId: string,
): Promise<{ version: string; definition: RuleDefinition } | undefined> {
  const [row] = await rows<{ version: string; definition: RuleDefinition }>(
    db,
    sql`select version, definition from rule_versions where rule_id = ${ruleId}
        order by first_seen_at desc, version limit 1`,
  );
  return row;
}

/** Every rule id that ever had a version recorded here. */
export async function knownRuleIds(db: DbOrTx): Promise<string[]> {
  const found = await rows<{ rule_id: string }>(
    db,
    sql`select distinct rule_id from rule_versions order by rule_id`,
  );
  return found.map((r) => r.rule_id);
}

/**
 * Removes every claim of `source` on one tag and entity type through the one
 * claim writer, each with a `removed` tag event of the retiring run; returns
 * how many went.
 */
export async function removeRuleClaims(
  tx: Tx,
  p: {
    type: EntityType;
    tagId: number;
    source: string;
    rule: { id: string; version: string };
    runId: number;
    asOf: Date;
    explanation: unknown;
  },
): Promise<number> {
  const writes = claimChangeWrites({
    type: p.type,
    from: sql`gone d`,
    action: sql`'remove'::text`,
    entityId: sql`d.entity_id`,
    tagId: sql`${p.tagId}::int`,
    source: sql`${p.source}::text`,
    event: {
      rule: {
        id: sql`${p.rule.id}::text`,
        version: sql`${p.rule.version}::text`,
        runId: sql`${p.runId}::bigint`,
        asOf: sql`${p.asOf.toISOString()}::timestamptz`,
      },
      explanation: sql`${JSON.stringify(p.explanation)}::jsonb`,
    },
    order: sql`d.entity_id`,
  });
  const [row] = await rows<{ n: number }>(
    tx,
    sql`with gone as (
          select entity_id from claims
          where tag_id = ${p.tagId} and entity_type = ${p.type} and source = ${p.source}),
        ${writes}
        select count(*)::int as n from gone`,
  );
  return row?.n ?? 0;
}

/** A rule that holds claims although no enabled rule file of that id exists. */
export interface LeftoverClaims {
  rule_id: string;
  claims: number;
  tags: string[];
}

/**
 * Claims held by rules other than `enabledIds`, found through the tags and
 * targets each rule's recorded versions named: a range of the claims key per
 * tag, never a scan of every claim.
 */
export async function leftoverRuleClaims(
  db: DbOrTx,
  enabledIds: readonly string[],
): Promise<LeftoverClaims[]> {
  const others = enabledIds.length ? sql`where not (v.rule_id in ${enabledIds})` : sql``;
  return rows<LeftoverClaims>(
    db,
    sql`with candidates as (
          select distinct v.rule_id, lower(v.definition->>'tag') as tag, v.definition->>'target' as target
          from rule_versions v ${others})
        select c.rule_id, count(*)::int as claims, array_agg(distinct t.name order by t.name) as tags
        from candidates c
        join tags t on lower(t.name) = c.tag
        join claims k on k.tag_id = t.id and k.entity_type = c.target and k.source = 'rule:' || c.rule_id
        group by c.rule_id
        order by c.rule_id`,
  );
}
