import { readFileSync } from "node:fs";
import { type SQL, sql } from "drizzle-orm";
import type { DbOrTx, Tx } from "../db/client.ts";
import { rows } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { createdColumn, entityTable } from "../facts/sql/entities.ts";
import { calendarDate } from "../facts/time.ts";
import { collectFactRequests } from "../rules/fact-requests.ts";
import type { LoadedRule } from "../rules/types.ts";

/**
 * Incremental runs: a rule's claims, once reconciled for every entity, stay
 * right for each entity whose inputs have not changed, as long as the rule's
 * version and the calendar day it is evaluated on stay the same. So a run can
 * re-evaluate only the entities that changed since the rule's last full or
 * incremental run (its baseline), read from the change log that triggers keep
 * (entity_changes), plus those whose facts move with the as-of instant within
 * the day (created, or a suppression ending, between the two instants).
 *
 * A run records the snapshot it evaluated under (taken before it read
 * anything) and its own transaction id; the next run takes every change made
 * by a transaction that snapshot did not see, so a transaction that was still
 * running then is never missed, however late it commits. Reading too much only
 * costs time: a change made just after the snapshot but seen by the evaluation
 * is simply evaluated again next time.
 */

/** What a run records so the next one can start from it. */
export interface RunSnapshot {
  snapshot: string;
  xid: string;
}

/**
 * What evaluated a baseline: this signaltag's version and the revision of what
 * its facts and operators mean (raise it with any change to either). A run by
 * another evaluates every entity again, so an upgrade never leaves claims
 * decided by the old meaning in place until the next day.
 */
export const EVALUATED_BY = `${
  (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
    .version
}/facts-1`;

/** The `baseline` member of a run's details: the snapshot it evaluated under, its time zone and evaluator. */
export function baselineDetails(snapshot: RunSnapshot, timezone: string): Record<string, unknown> {
  return { baseline: { ...snapshot, timezone, evaluatedBy: EVALUATED_BY } };
}

export interface Baseline extends RunSnapshot {
  runId: number;
  asOf: Date;
  /**
   * The rule's claims when that run committed (what it matched). With no
   * change since, none of the rule's claims changed either: the change log
   * records every claim of its tag that any transaction added or removed.
   */
  claims: number;
}

/** A baseline older than this is not used, and the change log keeps nothing older than the baselines within it. */
const BASELINE_HOURS = 36;

/** The snapshot the run is about to evaluate under, and its transaction id (assigned now). */
export async function takeSnapshot(tx: Tx): Promise<RunSnapshot> {
  const [r] = await rows<RunSnapshot>(
    tx,
    sql`select pg_current_snapshot()::text as snapshot, pg_current_xact_id()::text as xid`,
  );
  return r!;
}

/** Changes made by transactions the baseline's snapshot did not see, other than the baseline run's own. */
function since(b: RunSnapshot): SQL {
  return sql`c.txid >= pg_snapshot_xmin(${b.snapshot}::pg_snapshot)
    and not pg_visible_in_snapshot(c.txid, ${b.snapshot}::pg_snapshot) and c.txid <> ${b.xid}::xid8`;
}

/**
 * The run this one can start from, or why it must evaluate every entity: no
 * earlier run recorded a snapshot, the rule changed, the calendar day or time
 * zone differs, the as-of instant went back, a run on another day or version
 * came in between, or a watched table was truncated since.
 */
export async function findBaseline(
  tx: DbOrTx,
  loaded: LoadedRule,
  asOf: Date,
  timezone: string,
): Promise<{ ok: true; baseline: Baseline } | { ok: false; reason: string }> {
  const def = loaded.definition;
  const today = calendarDate(asOf, timezone);
  const [b] = await rows<{
    id: number;
    as_of: Date;
    matched: number;
    rule_version: string;
    snapshot: string;
    xid: string;
    timezone: string | null;
    evaluated_by: string | null;
    recent: boolean;
  }>(
    tx,
    sql`select id::int as id, as_of, matched, rule_version, details->'baseline'->>'snapshot' as snapshot,
               details->'baseline'->>'xid' as xid, details->'baseline'->>'timezone' as timezone,
               details->'baseline'->>'evaluatedBy' as evaluated_by,
               started_at > now() - make_interval(hours => ${BASELINE_HOURS}) as recent
        from rule_runs
        where rule_id = ${def.id} and status = 'applied' and details ? 'baseline'
        order by id desc limit 1`,
  );
  if (!b) return { ok: false, reason: "no earlier run to start from" };
  const asOfBefore = new Date(b.as_of);
  if (b.rule_version !== loaded.version) return { ok: false, reason: "the rule changed since its last run" };
  if (b.evaluated_by !== EVALUATED_BY)
    return { ok: false, reason: "signaltag was upgraded since the rule's last run" };
  if (!b.recent) return { ok: false, reason: `its last full run is more than ${BASELINE_HOURS} hours old` };
  if (b.timezone !== timezone || calendarDate(asOfBefore, timezone) !== today)
    return { ok: false, reason: "its last run was for another calendar day" };
  if (asOfBefore.getTime() > asOf.getTime())
    return { ok: false, reason: "its last run was as of a later instant" };
  const [between] = await rows<{ other: boolean; reset: boolean }>(
    tx,
    sql`select exists (
          select 1 from rule_runs
          where rule_id = ${def.id} and id > ${b.id} and status = 'applied'
            and (rule_version <> ${loaded.version} or as_of > ${asOf.toISOString()}::timestamptz
                 or (as_of at time zone ${timezone})::date <> ${today}::date)) as other,
        exists (select 1 from entity_changes c
                where c.entity_type = ${def.target} and c.kind = 'reset' and c.tag_id is null and ${since(b)}) as reset`,
  );
  if (between?.other)
    return { ok: false, reason: "a run for another day or version came after its last run" };
  if (between?.reset) return { ok: false, reason: "a table it reads was truncated since its last run" };
  return {
    ok: true,
    baseline: { runId: b.id, asOf: asOfBefore, snapshot: b.snapshot, xid: b.xid, claims: b.matched },
  };
}

/** Whether a run of the rule now would be incremental (a queue job then needs no partitions). */
export async function canRunIncrementally(
  db: DbOrTx,
  loaded: LoadedRule,
  asOf: Date,
  timezone: string,
): Promise<boolean> {
  return (await findBaseline(db, loaded, asOf, timezone)).ok;
}

/**
 * The ids of the entities the rule must re-evaluate since the baseline: one
 * column `id`. Which changes count follows the facts the rule reads: its
 * entities' own rows always, their rollups for activity facts, the users of an
 * account for userCount and activeUsers, a user's account for `account`, every
 * tag for `tags`, and the claims and suppressions of its own tag.
 */
export function changedEntities(
  loaded: LoadedRule,
  baseline: Baseline,
  asOf: Date,
  tagId: number | null,
): SQL {
  const def = loaded.definition;
  const type = def.target;
  const facts = new Set(collectFactRequests(def).map((r) => r.fact));
  const activity = ["activeDays", "daysSinceLastActive", "eventCount", "modulesUsed"].some((f) =>
    facts.has(f),
  );
  const members = type === "account" && (facts.has("userCount") || facts.has("activeUsers"));
  const then = baseline.asOf.toISOString();
  const own = { table: entityTable(type), created: createdColumn(type, "e") };
  const now = asOf.toISOString();
  const kinds = ["row", ...(activity ? ["activity"] : []), ...(members ? ["member"] : [])];
  const between = (column: SQL) => sql`${column} > ${then}::timestamptz and ${column} <= ${now}::timestamptz`;
  // Each kind is read on its own through entity_changes_kind_idx: only a rule's own tag's claim changes,
  // not every rule's.
  const changes = (of: "user" | "account", ofKinds: string[], tag: "none" | "any" | number) =>
    sql`select c.entity_id as id from entity_changes c
        where c.entity_type = ${of} and c.kind in ${ofKinds}
          ${tag === "none" ? sql`and c.tag_id is null` : tag === "any" ? sql`` : sql`and c.tag_id = ${tag}`}
          and ${since(baseline)}`;
  const parts: SQL[] = [
    changes(type, kinds, "none"),
    changes(type, ["claim", "suppression"], tagId ?? -1),
    ...(facts.has("tags") ? [changes(type, ["claim"], "any")] : []),
    // With exit conditions the rule's own claim is one of its inputs: what its last run changed, it decides again.
    ...(def.exitConditions
      ? [
          sql`select c.entity_id from entity_changes c
              where c.txid = ${baseline.xid}::xid8 and c.entity_type = ${type}
                and c.kind = 'claim' and c.tag_id = ${tagId ?? -1}`,
        ]
      : []),
    // Entities that came into existence between the two instants.
    sql`select e.id from ${own.table} e where ${between(own.created)}`,
    // Suppressions of the tag that ended between the two instants.
    sql`select s.entity_id from suppressions s
        where s.tag_id = ${tagId ?? -1} and s.entity_type = ${type} and ${between(sql`s.until`)}`,
  ];
  if (type === "user" && facts.has("account")) {
    parts.push(sql`select u.id from users u where u.account_id in (${changes("account", ["row"], "none")})`);
  }
  if (members) {
    parts.push(sql`select u.account_id from users u where ${between(createdColumn("user", "u"))}`);
    if (facts.has("activeUsers")) {
      parts.push(
        sql`select u.account_id from users u where u.id in (${changes("user", ["activity"], "none")})`,
      );
    }
  }
  return sql.join(parts, sql` union `);
}

/**
 * Drops change-log rows no baseline can need: those every rule's latest
 * baseline snapshot saw (baselines past BASELINE_HOURS are never used), and
 * every snapshot of partitions waiting to be applied. A transaction that ran
 * long in another database of the server holds back the snapshots' xmin, not
 * what they saw, so a row is judged by what they saw, not by that xmin. Only while no run or
 * partition is under way (one in progress may be about to record an older
 * snapshot): they hold a shared lock that this takes exclusively, and it
 * gives up at once when it cannot. When every row can go (typically the run
 * after one that wrote a first run's hundreds of thousands of claims) the
 * table is truncated, unless some transaction is writing to it right now.
 */
export async function pruneChanges(db: DbOrTx): Promise<number> {
  const pruned = await inTransaction(db, async (tx) => {
    // A change is still needed while a snapshot a next run starts from did not see it, or when it is the
    // baseline run's own (a snapshot never lists its own transaction, and a rule with exit conditions reads
    // what its last run changed). commonSnapshot sees exactly what all of them saw; this transaction's
    // own snapshot, which sees all that committed, is one of them, so none at all still prunes. A long
    // transaction in another database of the server only adds itself to their in-progress lists.
    const [h] = await rows<{ got: boolean; common: string; xids: string[] }>(
      tx,
      sql`with base as (
            select details->'baseline' as b
            from (select distinct on (rule_id) details from rule_runs
                  where status = 'applied' and details ? 'baseline'
                    and started_at > now() - make_interval(hours => ${BASELINE_HOURS})
                  order by rule_id, id desc) r)
          select pg_try_advisory_xact_lock(${PRUNE_LOCK}) as got,
                 (${commonSnapshot(sql`select x::pg_snapshot as s from (
                    select b->>'snapshot' as x from base
                    -- Partitions evaluated but not applied yet: their run will record them.
                    union all
                    select snapshot from run_partitions where snapshot is not null
                    union all
                    select pg_current_snapshot()::text) q`)}) as common,
                 array(select b->>'xid' from base where b ? 'xid') as xids`,
    );
    if (!h?.got) return 0;
    const needed = sql`(c.txid >= pg_snapshot_xmin(${h.common}::pg_snapshot)
      and (not pg_visible_in_snapshot(c.txid, ${h.common}::pg_snapshot)
           or c.txid = any(array(select x::xid8 from jsonb_array_elements_text(${JSON.stringify(h.xids)}::jsonb) x))))`;
    const keeps = sql`exists (select 1 from entity_changes c where ${needed})`;
    const [k] = await rows<{ keep: boolean }>(tx, sql`select ${keeps} as keep`);
    if (!k!.keep && (await lockedAtOnce(tx))) {
      // From here on no transaction can add a row; one may have committed one since the look above.
      const [c] = await rows<{ n: number; keep: boolean }>(
        tx,
        sql`select count(*)::int as n, ${keeps} as keep from entity_changes`,
      );
      if (!c!.keep) {
        await tx.execute(sql`truncate entity_changes`);
        return -c!.n;
      }
    }
    const [r] = await rows<{ n: number }>(
      tx,
      sql`with gone as (delete from entity_changes c where not (${needed}) returning 1)
          select count(*)::int as n from gone`,
    );
    return r?.n ?? 0;
  });
  // A large delete leaves dead rows behind; a vacuum returns their space (not possible inside a transaction).
  // A truncate (negative count) leaves nothing.
  if (pruned >= VACUUM_AFTER_PRUNED && !("rollback" in db))
    await db.execute(sql`vacuum (analyze, skip_locked) entity_changes`);
  return Math.abs(pruned);
}

/** Takes the change log for itself, unless a transaction is writing to it (then false, and nothing is held). */
async function lockedAtOnce(tx: Tx): Promise<boolean> {
  await tx.execute(sql`savepoint signaltag_prune`);
  try {
    await tx.execute(sql`lock table entity_changes in access exclusive mode nowait`);
    return true;
  } catch {
    await tx.execute(sql`rollback to savepoint signaltag_prune`);
    return false;
  }
}

const VACUUM_AFTER_PRUNED = 10_000;

/**
 * One snapshot that sees only what every one of the given snapshots saw (a
 * partitioned run's partitions each evaluated under their own): the oldest
 * xmin, the oldest xmax, and every transaction any of them saw in progress.
 * `snapshots` is a query of one pg_snapshot column `s`.
 */
export function commonSnapshot(snapshots: SQL): SQL {
  return sql`with s as (${snapshots}),
    b as (select min(pg_snapshot_xmin(s.s)) as lo, min(pg_snapshot_xmax(s.s)) as hi from s)
    select (b.lo::text || ':' || b.hi::text || ':' || coalesce((
      select string_agg(x::text, ',' order by x) from (
        select distinct x from s, pg_snapshot_xip(s.s) x where x >= b.lo and x < b.hi) q), ''))::pg_snapshot::text
      as snapshot
    from b where b.lo is not null`;
}

/** Held shared by every run that may record a baseline, exclusively by pruning. */
export const PRUNE_LOCK = sql`hashtextextended('signaltag:entity-changes', 0)`;
