import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { preparedRows } from "../../db/prepared.ts";
import type { EntityType } from "../../facts/catalog.ts";

export interface SuppressionRow {
  id: number;
  tag: string;
  entityType: EntityType;
  entityId: string;
  ruleId: string | null;
  until: string | null;
  reason: string | null;
  createdBy: string | null;
  createdAt: string;
  liftedAt: string | null;
  liftedBy: string | null;
  /** active, lifted, or expired (its `until` has passed). */
  status: "active" | "lifted" | "expired";
}

const iso = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

function selectSuppressions(now: Date) {
  return sql`select s.id, t.name as tag, s.entity_type as "entityType", s.entity_id as "entityId", s.rule_id as "ruleId",
               ${iso("s.until")} as until, s.reason, s.created_by as "createdBy", ${iso("s.created_at")} as "createdAt",
               ${iso("s.lifted_at")} as "liftedAt", s.lifted_by as "liftedBy",
               case when s.lifted_at is not null then 'lifted'
                    when s.until is not null and s.until <= ${now.toISOString()}::timestamptz then 'expired'
                    else 'active' end as status
             from suppressions s join tags t on t.id = s.tag_id`;
}

export async function insertSuppression(
  tx: DbOrTx,
  p: {
    tagId: number;
    type: EntityType;
    id: string;
    ruleId: string | null;
    until: Date | null;
    reason: string | null;
    actor: string;
  },
): Promise<number> {
  const [row] = await rows<{ id: number }>(
    tx,
    sql`insert into suppressions (tag_id, entity_type, entity_id, rule_id, until, reason, created_by, created_at)
        values (${p.tagId}, ${p.type}, ${p.id}, ${p.ruleId}, ${p.until?.toISOString() ?? null}::timestamptz,
                ${p.reason}, ${p.actor}, clock_timestamp())
        returning id`,
  );
  return row!.id;
}

export async function suppressionById(
  db: DbOrTx,
  id: number,
  now: Date,
): Promise<SuppressionRow | undefined> {
  const [row] = await rows<SuppressionRow>(db, sql`${selectSuppressions(now)} where s.id = ${id}`);
  return row;
}

/** An entity's suppressions, newest first; only those still in force unless `all`. */
export async function entitySuppressions(
  db: DbOrTx,
  p: { type: EntityType; id: string; now: Date; all?: boolean },
): Promise<SuppressionRow[]> {
  const active = p.all
    ? sql`true`
    : sql`s.lifted_at is null and (s.until is null or s.until > ${p.now.toISOString()}::timestamptz)`;
  return preparedRows<SuppressionRow>(
    db,
    sql`${selectSuppressions(p.now)} where s.entity_type = ${p.type} and s.entity_id = ${p.id} and ${active}
        order by s.created_at desc, s.id desc`,
  );
}

/** Marks a suppression lifted; false when it was lifted already. */
export async function markLifted(tx: DbOrTx, id: number, actor: string): Promise<boolean> {
  const updated = await rows<{ id: number }>(
    tx,
    sql`update suppressions set lifted_at = clock_timestamp(), lifted_by = ${actor}
        where id = ${id} and lifted_at is null returning id`,
  );
  return updated.length > 0;
}

/** Whether a rule with this id has been synced from the rules directory. */
export async function ruleKnown(db: DbOrTx, ruleId: string): Promise<boolean> {
  const found = await rows<{ id: string }>(db, sql`select id from rules where id = ${ruleId}`);
  return found.length > 0;
}

export async function knownRuleIds(db: DbOrTx): Promise<string[]> {
  const found = await rows<{ id: string }>(db, sql`select id from rules order by id`);
  return found.map((r) => r.id);
}

/** Which rule claims a suppression takes away: one rule's, or every rule's. */
export function ruleSourceFilter(ruleId: string | null) {
  return (source: ReturnType<typeof sql>) =>
    ruleId === null ? sql`${source} like 'rule:%'` : sql`${source} = ${`rule:${ruleId}`}`;
}
