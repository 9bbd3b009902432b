import { type SQL, sql } from "drizzle-orm";
import { claimChangeWrites } from "../../claims/write-changes.ts";
import type { DbOrTx, Tx } from "../../db/client.ts";
import { preparedRows } from "../../db/prepared.ts";
import type { EntityType } from "../../facts/catalog.ts";

/**
 * Queries of the single-entity re-evaluation (src/runs/reconcile-entities.ts):
 * fixed statement texts with lists passed as one JSON parameter, so each is
 * prepared once per connection and then costs one round trip, and several of
 * them pipeline on the transaction's connection.
 */

const idsIn = (ids: readonly string[]): SQL =>
  sql`array(select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;

/**
 * Takes the advisory locks of several rules (see lockKey), in the order given:
 * callers pass them sorted by rule id, so two transactions that each hold
 * several never wait on each other in a cycle.
 */
export async function lockRules(tx: Tx, keys: readonly SQL[]): Promise<void> {
  if (keys.length === 0) return;
  await preparedRows(
    tx,
    sql`select ${sql.join(
      keys.map((k) => sql`pg_advisory_xact_lock(${k})`),
      sql`, `,
    )}`,
  );
}

export interface EntityClaimRow {
  entity_id: string;
  tag_id: number;
  tag: string;
  source: string;
}

/** Every claim, of any source, on the given entities. */
export async function claimsOnEntities(
  db: DbOrTx,
  type: EntityType,
  ids: readonly string[],
): Promise<EntityClaimRow[]> {
  return preparedRows<EntityClaimRow>(
    db,
    sql`select c.entity_id, c.tag_id, t.name as tag, c.source
        from claims c join tags t on t.id = c.tag_id
        where c.entity_type = ${type} and c.entity_id = any(${idsIn(ids)})`,
  );
}

export interface EntitySuppressionRow {
  entity_id: string;
  tag_id: number;
  rule_id: string | null;
}

/** Suppressions in force at the as-of instant on the given entities. */
export async function suppressionsOnEntities(
  db: DbOrTx,
  type: EntityType,
  ids: readonly string[],
  asOf: Date,
): Promise<EntitySuppressionRow[]> {
  return preparedRows<EntitySuppressionRow>(
    db,
    sql`select entity_id, tag_id, rule_id from suppressions
        where entity_type = ${type} and entity_id = any(${idsIn(ids)}) and lifted_at is null
          and (until is null or until > ${asOf.toISOString()}::timestamptz)`,
  );
}

export interface TagIdRow {
  id: number;
  name: string;
}

/** Tags by name, matched case-insensitively. */
export async function tagsNamed(db: DbOrTx, names: readonly string[]): Promise<TagIdRow[]> {
  return preparedRows<TagIdRow>(
    db,
    sql`select id, name from tags
        where lower(name) = any(array(select lower(jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))))`,
  );
}

/** One rule's run of a re-evaluation, as recorded in rule_runs. */
export interface EntityRunRecord {
  ruleId: string;
  version: string;
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  details: Record<string, unknown>;
}

/** One claim a re-evaluation adds or removes, with its tag event. */
export interface EntityClaimChange {
  ruleId: string;
  version: string;
  tagId: number;
  entityId: string;
  action: "add" | "remove";
  membershipChanged: boolean;
  explanation: unknown;
}

/**
 * Writes a whole re-evaluation in one statement: a rule_runs row per rule
 * (ids in the order given), the tag events in the order given, each pointing
 * at its rule's run, and the claims added and removed. Every rule's claims are
 * distinct rows (the source names the rule), so no row is touched twice.
 * Returns each rule's run id.
 */
export async function writeEntityRuns(
  tx: Tx,
  p: {
    type: EntityType;
    trigger: string;
    asOf: Date;
    forced: boolean;
    durationMs: number;
    runs: readonly EntityRunRecord[];
    changes: readonly EntityClaimChange[];
  },
): Promise<Map<string, number>> {
  const asOf = p.asOf.toISOString();
  const runs = p.runs.map((r, seq) => ({ seq, ...r }));
  const changes = p.changes.map((c, seq) => ({ seq, ...c, source: `rule:${c.ruleId}` }));
  const found = await preparedRows<{ id: number; rule_id: string }>(
    tx,
    sql`with runs as (
          insert into rule_runs (rule_id, rule_version, trigger, as_of, status, forced, evaluated, matched, added,
                                 removed, finished_at, duration_ms, details)
          select r."ruleId", r.version, ${p.trigger}, ${asOf}::timestamptz, 'applied', ${p.forced}, r.evaluated,
                 r.matched, r.added, r.removed, now(), ${p.durationMs}::int, r.details
          from jsonb_to_recordset(${JSON.stringify(runs)}::jsonb)
               as r(seq int, "ruleId" text, version text, evaluated int, matched int, added int, removed int, details jsonb)
          order by r.seq
          returning id, rule_id),
        changes as (
          select c.* from jsonb_to_recordset(${JSON.stringify(changes)}::jsonb)
            as c(seq int, "ruleId" text, version text, source text, "tagId" int, "entityId" text, action text,
                 "membershipChanged" boolean, explanation jsonb)),
        ${claimChangeWrites({
          type: p.type,
          from: sql`changes c`,
          action: sql`c.action`,
          entityId: sql`c."entityId"`,
          tagId: sql`c."tagId"`,
          source: sql`c.source`,
          membershipChanged: sql`c."membershipChanged"`,
          event: {
            rule: {
              id: sql`c."ruleId"`,
              version: sql`c.version`,
              runId: sql`runs.id`,
              asOf: sql`${asOf}::timestamptz`,
            },
            explanation: sql`c.explanation`,
          },
          eventJoins: sql`join runs on runs.rule_id = c."ruleId"`,
          order: sql`c.seq`,
          unlessClaimed: true,
        })}
        select id::int as id, rule_id from runs`,
  );
  return new Map(found.map((r) => [r.rule_id, r.id]));
}
