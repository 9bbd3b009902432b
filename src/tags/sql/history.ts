import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import type { RuleDefinition } from "../../rules/types.ts";
import { expandExplanation, isCompactExplanation } from "../../runs/explanation.ts";

/** Microseconds, so an entry's instant orders (and pages) exactly. */
// Microseconds for the page cursor, which must fall between two events; milliseconds for people.
const isoUs = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
const isoMs = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

export interface HistoryRow {
  kind: "tag" | "suppression";
  /** tag_events.id or suppressions.id. */
  id: number;
  at: string;
  /** `at` to the microsecond, for the page cursor. */
  cursor_at: string;
  tag: string;
  /** added/removed for a claim; suppressed/lifted/expired for a suppression. */
  action: string;
  source: string | null;
  actor: string | null;
  membership_changed: boolean | null;
  rule_id: string | null;
  rule_version: string | null;
  run_id: number | null;
  as_of: string | null;
  explanation: Record<string, unknown> | null;
  until: string | null;
  reason: string | null;
  /** Sort key inside one instant: claim events after suppression entries. */
  seq: number;
}

export interface HistoryCursor {
  at: string;
  seq: number;
  id: number;
}

/**
 * An entity's history, newest first: every claim added or removed, and every
 * suppression created, lifted or ended, as one timeline. Keyset-paginated on
 * (instant, kind, id).
 */
export async function entityHistory(
  db: DbOrTx,
  p: { type: EntityType; id: string; tagId?: number; before?: HistoryCursor; limit: number; now: Date },
): Promise<HistoryRow[]> {
  const tagFilter = (col: string) => (p.tagId === undefined ? sql`true` : sql`${sql.raw(col)} = ${p.tagId}`);
  const before = p.before
    ? sql`where (at_ts, seq, id) < (${p.before.at}::timestamptz, ${p.before.seq}, ${p.before.id})`
    : sql``;
  const found = await rows<HistoryRow>(
    db,
    sql`select kind, id, ${isoMs("at_ts")} as at, ${isoUs("at_ts")} as cursor_at, tag, action, source, actor, membership_changed, rule_id, rule_version,
               run_id, as_of, explanation, until, reason, seq
        from (
          select 'tag' as kind, e.id::int as id, e.occurred_at as at_ts, t.name as tag, e.action, e.source, e.actor,
                 e.membership_changed, e.rule_id, e.rule_version, e.run_id::int as run_id, ${isoMs("e.as_of")} as as_of,
                 e.explanation, null::text as until, null::text as reason, 1 as seq
          from tag_events e join tags t on t.id = e.tag_id
          where e.entity_type = ${p.type} and e.entity_id = ${p.id} and ${tagFilter("e.tag_id")}
          union all
          select 'suppression', s.id, s.created_at, t.name, 'suppressed', case when s.rule_id is null then null else 'rule:' || s.rule_id end,
                 s.created_by, null, s.rule_id, null, null, null, null, ${isoMs("s.until")}, s.reason, 0
          from suppressions s join tags t on t.id = s.tag_id
          where s.entity_type = ${p.type} and s.entity_id = ${p.id} and ${tagFilter("s.tag_id")}
          union all
          select 'suppression', s.id, s.lifted_at, t.name, 'lifted', case when s.rule_id is null then null else 'rule:' || s.rule_id end,
                 s.lifted_by, null, s.rule_id, null, null, null, null, ${isoMs("s.until")}, s.reason, 2
          from suppressions s join tags t on t.id = s.tag_id
          where s.entity_type = ${p.type} and s.entity_id = ${p.id} and ${tagFilter("s.tag_id")}
            and s.lifted_at is not null and (s.until is null or s.lifted_at < s.until)
          union all
          select 'suppression', s.id, s.until, t.name, 'expired', case when s.rule_id is null then null else 'rule:' || s.rule_id end,
                 null, null, s.rule_id, null, null, null, null, ${isoMs("s.until")}, s.reason, 3
          from suppressions s join tags t on t.id = s.tag_id
          where s.entity_type = ${p.type} and s.entity_id = ${p.id} and ${tagFilter("s.tag_id")}
            and s.until is not null and s.until <= ${p.now.toISOString()}::timestamptz
            and (s.lifted_at is null or s.lifted_at >= s.until)
        ) h
        ${before}
        order by at_ts desc, seq desc, id desc
        limit ${p.limit}`,
  );
  await expandExplanations(db, found);
  return found;
}

/** The columns of a tag event that say which rule run wrote it and why. */
export interface StoredExplanation {
  rule_id: string | null;
  rule_version: string | null;
  as_of: string | Date | null;
  explanation: Record<string, unknown> | null;
}

/**
 * Replaces, in place, each compact explanation a compiled run stored (see
 * CompactExplanation) by the whole one, read against the rule version that
 * wrote it; other explanations stay as they are.
 */
export async function expandExplanations(db: DbOrTx, events: StoredExplanation[]): Promise<void> {
  const compact = events.filter((e) => e.rule_id && e.rule_version && isCompactExplanation(e.explanation));
  if (compact.length === 0) return;
  const keys = [...new Set(compact.map((e) => JSON.stringify([e.rule_id, e.rule_version])))].map(
    (k) => JSON.parse(k) as [string, string],
  );
  const versions = await rows<{ rule_id: string; version: string; definition: RuleDefinition }>(
    db,
    sql`select v.rule_id, v.version, v.definition from rule_versions v
        join jsonb_array_elements(${JSON.stringify(keys)}::jsonb) k
          on v.rule_id = k->>0 and v.version = k->>1`,
  );
  const byKey = new Map(versions.map((v) => [JSON.stringify([v.rule_id, v.version]), v.definition]));
  for (const e of compact) {
    const def = byKey.get(JSON.stringify([e.rule_id, e.rule_version]));
    if (!def || !isCompactExplanation(e.explanation)) continue;
    const asOf = e.as_of === null ? "" : new Date(e.as_of).toISOString();
    const header = { rule: e.rule_id!, version: e.rule_version!, asOf };
    e.explanation = expandExplanation(def, e.explanation, header) ?? e.explanation;
  }
}

/** The names of the rule versions that wrote these events, by `rule_id` and `rule_version`. */
export async function ruleVersionNames(
  db: DbOrTx,
  events: Pick<StoredExplanation, "rule_id" | "rule_version">[],
): Promise<Map<string, string>> {
  const keys = [
    ...new Set(
      events
        .filter((e) => e.rule_id && e.rule_version)
        .map((e) => JSON.stringify([e.rule_id, e.rule_version])),
    ),
  ];
  if (keys.length === 0) return new Map();
  const found = await rows<{ key: string; name: string | null }>(
    db,
    sql`select jsonb_build_array(v.rule_id, v.version)::text as key, v.definition->>'name' as name
        from rule_versions v
        join jsonb_array_elements(${JSON.stringify(keys.map((k) => JSON.parse(k)))}::jsonb) k
          on v.rule_id = k->>0 and v.version = k->>1`,
  );
  // jsonb prints arrays with a space after commas; the keys here are JSON.stringify's.
  return new Map(
    found
      .filter((f) => f.name !== null)
      .map((f) => [JSON.stringify(JSON.parse(f.key) as unknown), f.name as string]),
  );
}

/** The key of ruleVersionNames' map for one event. */
export const ruleVersionKey = (e: Pick<StoredExplanation, "rule_id" | "rule_version">) =>
  JSON.stringify([e.rule_id, e.rule_version]);

/**
 * The entities that had a tag at an instant, replayed from history: an
 * entity had it when, for at least one source, that source's last event on
 * the tag at or before the instant added a claim. Keyset-paginated by id.
 */
export async function membersAsOf(
  db: DbOrTx,
  p: { tagId: number; type: EntityType; at: Date; after?: string; limit: number },
): Promise<string[]> {
  const found = await rows<{ entity_id: string }>(
    db,
    sql`select entity_id from (
          select distinct on (entity_id, source) entity_id, action
          from tag_events
          where tag_id = ${p.tagId} and entity_type = ${p.type} and occurred_at <= ${p.at.toISOString()}::timestamptz
            ${p.after === undefined ? sql`` : sql`and entity_id > ${p.after}`}
          order by entity_id, source, id desc) last
        where action = 'added'
        group by entity_id
        order by entity_id
        limit ${p.limit}`,
  );
  return found.map((r) => r.entity_id);
}

/** The entities that have a tag now (at least one claim), keyset-paginated by id. */
export async function currentMembers(
  db: DbOrTx,
  p: { tagId: number; type: EntityType; after?: string; limit: number },
): Promise<string[]> {
  const found = await rows<{ entity_id: string }>(
    db,
    sql`select distinct entity_id from claims
        where tag_id = ${p.tagId} and entity_type = ${p.type}
          ${p.after === undefined ? sql`` : sql`and entity_id > ${p.after}`}
        order by entity_id
        limit ${p.limit}`,
  );
  return found.map((r) => r.entity_id);
}
