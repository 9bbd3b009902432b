import { type SQL, sql } from "drizzle-orm";
import { rows, type Tx } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import { createdColumn, entityTable } from "../../facts/sql/entities.ts";
import type { LoadedRule } from "../../rules/types.ts";
import type { BatchKeys, Scope } from "../scope.ts";

/** What a run reads of its rule's claims and the tag's suppressions, within its scope. */

const sourceOf = (ruleId: string) => `rule:${ruleId}`;

/** The rule's claims on the given entities (all of them without ids), before the run changes any. */
export async function countClaimsIn(
  tx: Tx,
  loaded: LoadedRule,
  tagId: number,
  ids: string[] | undefined,
): Promise<number> {
  const def = loaded.definition;
  const [row] = await rows<{ n: number }>(
    tx,
    sql`select count(*)::int as n from claims
        where source = ${sourceOf(def.id)} and tag_id = ${tagId} and entity_type = ${def.target}
          and ${ids ? sql`entity_id in ${ids.length ? ids : [""]}` : sql`true`}`,
  );
  return row?.n ?? 0;
}

/** How many claims the rule holds on its tag (tagId null: the tag does not exist yet, so none), as an expression. */
export function ruleClaimCount(loaded: LoadedRule, tagId: number | null): SQL {
  const def = loaded.definition;
  return sql`(select count(*) from claims c
    where c.source = ${sourceOf(def.id)} and c.tag_id = ${tagId ?? -1} and c.entity_type = ${def.target})::int`;
}

/** ruleClaimCount, read on its own. */
export async function countRuleClaims(tx: Tx, loaded: LoadedRule, tagId: number | null): Promise<number> {
  const [row] = await rows<{ n: number }>(tx, sql`select ${ruleClaimCount(loaded, tagId)} as n`);
  return row!.n;
}

/**
 * Gathers the entities an incremental run decides (a query of one column
 * `id`) into a table with statistics, so a few of them are probed by key
 * rather than every row hashed. Returns how many there are.
 */
export async function createCandidates(tx: Tx, changed: SQL): Promise<number> {
  await tx.execute(sql`create temp table rule_candidates on commit drop as
      ${changed}`);
  await tx.execute(sql`analyze rule_candidates`);
  const [c] = await rows<{ n: number }>(tx, sql`select count(*)::int as n from rule_candidates`);
  return c!.n;
}

/** The candidates as a subquery of ids. */
export const candidateIds = sql`(select rc.id from rule_candidates rc)`;

/** The next candidates after a key, in key order. */
export async function candidatesAfter(tx: Tx, after: string | null, limit: number): Promise<string[]> {
  const found = await rows<{ id: string }>(
    tx,
    sql`select id from rule_candidates ${after === null ? sql`` : sql`where id > ${after}`}
        order by id limit ${limit}`,
  );
  return found.map((r) => r.id);
}

function batchCondition(keys: BatchKeys): SQL {
  return "ids" in keys
    ? sql`entity_id in ${keys.ids}`
    : sql`entity_id >= ${keys.first} and entity_id <= ${keys.last}`;
}

/** Which entities of a batch the rule claims now, and which have a suppression of its tag in force. */
export async function claimsAndSuppressions(
  tx: Tx,
  p: { ruleId: string; tagId: number; type: EntityType; asOf: string; keys: BatchKeys },
): Promise<{ claimed: Set<string>; suppressed: Set<string> }> {
  const inBatch = batchCondition(p.keys);
  const found = await rows<{ entity_id: string; kind: string }>(
    tx,
    sql`select entity_id, 'claim' as kind from claims
        where source = ${sourceOf(p.ruleId)} and tag_id = ${p.tagId} and entity_type = ${p.type} and ${inBatch}
        union all
        select entity_id, 'suppressed' from suppressions
        where tag_id = ${p.tagId} and entity_type = ${p.type} and ${inBatch}
          and (rule_id is null or rule_id = ${p.ruleId}) and lifted_at is null
          and (until is null or until > ${p.asOf}::timestamptz)`,
  );
  const claimed = new Set<string>();
  const suppressed = new Set<string>();
  for (const r of found) (r.kind === "claim" ? claimed : suppressed).add(r.entity_id);
  return { claimed, suppressed };
}

/** Whether any suppression of the tag on entities of the type has not been lifted. */
export async function anySuppressions(tx: Tx, tagId: number | null, type: EntityType): Promise<boolean> {
  const [inForce] = await rows<{ found: boolean }>(
    tx,
    sql`select exists (select 1 from suppressions where tag_id = ${tagId ?? -1} and entity_type = ${type}
          and lifted_at is null) as found`,
  );
  return inForce?.found !== false;
}

/** True where the entity with this id did not exist at the as-of instant (created later, or gone). */
export function absentAt(type: EntityType, id: SQL, asOf: string): SQL {
  const table = entityTable(type);
  const created = createdColumn(type, "e");
  return sql`not exists (select 1 from ${table} e where e.id = ${id} and ${created} <= ${asOf}::timestamptz)`;
}

/** True where a claim `c` lies in the scope. */
export function claimInScope(scope: Scope): SQL {
  if ("ids" in scope) return sql`c.entity_id in ${scope.ids.length ? scope.ids : [""]}`;
  if ("changedSince" in scope) return sql`c.entity_id in ${candidateIds}`;
  return sql`${scope.after !== null ? sql`c.entity_id > ${scope.after}` : sql`true`}
            and ${scope.through !== null ? sql`c.entity_id <= ${scope.through}` : sql`true`}`;
}
