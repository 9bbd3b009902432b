import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows, type Tx } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import { createdColumn, entityTable } from "../../facts/sql/entities.ts";
import type { Baseline, RunSnapshot } from "../incremental.ts";

/**
 * The change log behind incremental runs (entity_changes, kept by triggers)
 * and the snapshots runs record as their baselines (src/runs/incremental.ts).
 */

/** Held shared by every run that may record a baseline, exclusively by pruning. */
const PRUNE_LOCK = sql`hashtextextended('signaltag:entity-changes', 0)`;

/** Holds the lock that keeps pruning from dropping changes a snapshot taken now may need. */
export async function lockChangeLogShared(tx: Tx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock_shared(${PRUNE_LOCK})`);
}

/** The snapshot the run is about to evaluate under, and its transaction id (assigned now). */
export async function takeSnapshot(tx: Tx): Promise<RunSnapshot> {
  const [r] = await rows<RunSnapshot>(
    tx,
    sql`select pg_current_snapshot()::text as snapshot, pg_current_xact_id()::text as xid`,
  );
  return r!;
}

/** The snapshot this transaction reads under. */
export async function currentSnapshot(tx: Tx): Promise<string | null> {
  const [{ snapshot } = { snapshot: null }] = await rows<{ snapshot: string }>(
    tx,
    sql`select pg_current_snapshot()::text as snapshot`,
  );
  return snapshot;
}

/** Changes made by transactions the baseline's snapshot did not see, other than the baseline run's own. */
function since(b: RunSnapshot): SQL {
  return sql`c.txid >= pg_snapshot_xmin(${b.snapshot}::pg_snapshot)
    and not pg_visible_in_snapshot(c.txid, ${b.snapshot}::pg_snapshot) and c.txid <> ${b.xid}::xid8`;
}

export interface BaselineRunRow {
  id: number;
  as_of: Date;
  matched: number;
  rule_version: string;
  snapshot: string;
  xid: string;
  timezone: string | null;
  evaluated_by: string | null;
  recent: boolean;
}

/** The rule's latest applied run that recorded a baseline, and whether it started within `hours`. */
export async function latestBaselineRun(
  db: DbOrTx,
  ruleId: string,
  hours: number,
): Promise<BaselineRunRow | undefined> {
  const [b] = await rows<BaselineRunRow>(
    db,
    sql`select id::int as id, as_of, matched, rule_version, details->'baseline'->>'snapshot' as snapshot,
               details->'baseline'->>'xid' as xid, details->'baseline'->>'timezone' as timezone,
               details->'baseline'->>'evaluatedBy' as evaluated_by,
               started_at > now() - make_interval(hours => ${hours}) as recent
        from rule_runs
        where rule_id = ${ruleId} and status = 'applied' and details ? 'baseline'
        order by id desc limit 1`,
  );
  return b;
}

/**
 * Since a baseline run: whether another applied run of the rule came for
 * another version, a later instant or another day (`other`), and whether a
 * table of its entity type was truncated (`reset`).
 */
export async function sinceBaseline(
  db: DbOrTx,
  p: { ruleId: string; type: EntityType; version: string; asOf: Date; timezone: string; today: string },
  b: RunSnapshot & { id: number },
): Promise<{ other: boolean; reset: boolean } | undefined> {
  const [between] = await rows<{ other: boolean; reset: boolean }>(
    db,
    sql`select exists (
          select 1 from rule_runs
          where rule_id = ${p.ruleId} and id > ${b.id} and status = 'applied'
            and (rule_version <> ${p.version} or as_of > ${p.asOf.toISOString()}::timestamptz
                 or (as_of at time zone ${p.timezone})::date <> ${p.today}::date)) as other,
        exists (select 1 from entity_changes c
                where c.entity_type = ${p.type} and c.kind = 'reset' and c.tag_id is null and ${since(b)}) as reset`,
  );
  return between;
}

/** Which logged changes make an entity one a rule must decide again (see changedEntities). */
export interface ChangeInputs {
  type: EntityType;
  /** Kinds of the entities' own changes: their rows, and their rollups or members where the rule reads them. */
  kinds: string[];
  tagId: number | null;
  /** Any claim of any tag (the rule reads `tags`). */
  anyClaim: boolean;
  /** The claims of the rule's tag the baseline run itself changed (the rule has exit conditions). */
  ownClaims: boolean;
  /** A user's account's row (the rule reads `account`). */
  accountRow: boolean;
  /** Users created between the two instants, as their accounts (the rule counts users). */
  newMembers: boolean;
  /** Users whose activity changed, as their accounts (the rule reads activeUsers). */
  activeMembers: boolean;
}

/** The ids of the entities changed since the baseline, as of the run's instant: one column `id`. */
export function changedEntitiesQuery(c: ChangeInputs, baseline: Baseline, asOf: Date): SQL {
  const then = baseline.asOf.toISOString();
  const own = { table: entityTable(c.type), created: createdColumn(c.type, "e") };
  const now = asOf.toISOString();
  const between = (column: SQL) => sql`${column} > ${then}::timestamptz and ${column} <= ${now}::timestamptz`;
  // Each kind is read on its own through entity_changes_kind_idx: only a rule's own tag's claim changes,
  // not every rule's.
  const changes = (of: EntityType, ofKinds: string[], tag: "none" | "any" | number) =>
    sql`select c.entity_id as id from entity_changes c
        where c.entity_type = ${of} and c.kind in ${ofKinds}
          ${tag === "none" ? sql`and c.tag_id is null` : tag === "any" ? sql`` : sql`and c.tag_id = ${tag}`}
          and ${since(baseline)}`;
  const parts: SQL[] = [
    changes(c.type, c.kinds, "none"),
    changes(c.type, ["claim", "suppression"], c.tagId ?? -1),
    ...(c.anyClaim ? [changes(c.type, ["claim"], "any")] : []),
    ...(c.ownClaims
      ? [
          sql`select c.entity_id from entity_changes c
              where c.txid = ${baseline.xid}::xid8 and c.entity_type = ${c.type}
                and c.kind = 'claim' and c.tag_id = ${c.tagId ?? -1}`,
        ]
      : []),
    // Entities that came into existence between the two instants.
    sql`select e.id from ${own.table} e where ${between(own.created)}`,
    // Suppressions of the tag that ended between the two instants.
    sql`select s.entity_id from suppressions s
        where s.tag_id = ${c.tagId ?? -1} and s.entity_type = ${c.type} and ${between(sql`s.until`)}`,
  ];
  if (c.accountRow) {
    parts.push(sql`select u.id from users u where u.account_id in (${changes("account", ["row"], "none")})`);
  }
  if (c.newMembers) {
    parts.push(sql`select u.account_id from users u where ${between(createdColumn("user", "u"))}`);
  }
  if (c.activeMembers) {
    parts.push(
      sql`select u.account_id from users u where u.id in (${changes("user", ["activity"], "none")})`,
    );
  }
  return sql.join(parts, sql` union `);
}

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

/**
 * Whether pruning got its lock (else a run is under way and nothing is
 * pruned), and what the change log must keep: changes a snapshot a next run
 * starts from did not see (`common` sees exactly what all of them saw), and
 * the baseline runs' own (`xids`: a snapshot never lists its own
 * transaction, and a rule with exit conditions reads what its last run
 * changed). This transaction's snapshot, which sees all that committed, is
 * one of them, so none at all still prunes; a long transaction in another
 * database of the server only adds itself to their in-progress lists.
 */
export async function pruneHorizon(
  tx: Tx,
  hours: number,
): Promise<{ got: boolean; common: string; xids: string[] } | undefined> {
  const [h] = await rows<{ got: boolean; common: string; xids: string[] }>(
    tx,
    sql`with base as (
          select details->'baseline' as b
          from (select distinct on (rule_id) details from rule_runs
                where status = 'applied' and details ? 'baseline'
                  and started_at > now() - make_interval(hours => ${hours})
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
  return h;
}

/** True for a change `c` the horizon still needs. */
function needed(h: { common: string; xids: string[] }): SQL {
  return sql`(c.txid >= pg_snapshot_xmin(${h.common}::pg_snapshot)
      and (not pg_visible_in_snapshot(c.txid, ${h.common}::pg_snapshot)
           or c.txid = any(array(select x::xid8 from jsonb_array_elements_text(${JSON.stringify(h.xids)}::jsonb) x))))`;
}

const keeps = (h: { common: string; xids: string[] }) =>
  sql`exists (select 1 from entity_changes c where ${needed(h)})`;

/** Whether the change log holds any change the horizon needs. */
export async function keepsAny(tx: Tx, h: { common: string; xids: string[] }): Promise<boolean> {
  const [k] = await rows<{ keep: boolean }>(tx, sql`select ${keeps(h)} as keep`);
  return k!.keep;
}

/** Takes the change log for itself, unless a transaction is writing to it (then false, and nothing is held). */
export async function lockChangeLogAtOnce(tx: Tx): Promise<boolean> {
  await tx.execute(sql`savepoint signaltag_prune`);
  try {
    await tx.execute(sql`lock table entity_changes in access exclusive mode nowait`);
    return true;
  } catch {
    await tx.execute(sql`rollback to savepoint signaltag_prune`);
    return false;
  }
}

/** With the change log locked: empties it when it holds nothing needed; returns how many rows went (else null). */
export async function truncateUnlessNeeded(
  tx: Tx,
  h: { common: string; xids: string[] },
): Promise<number | null> {
  // No transaction can add a row now; one may have committed one since the caller looked.
  const [c] = await rows<{ n: number; keep: boolean }>(
    tx,
    sql`select count(*)::int as n, ${keeps(h)} as keep from entity_changes`,
  );
  if (c!.keep) return null;
  await tx.execute(sql`truncate entity_changes`);
  return c!.n;
}

/** Deletes the changes the horizon does not need; returns how many. */
export async function deleteUnneeded(tx: Tx, h: { common: string; xids: string[] }): Promise<number> {
  const [r] = await rows<{ n: number }>(
    tx,
    sql`with gone as (delete from entity_changes c where not (${needed(h)}) returning 1)
        select count(*)::int as n from gone`,
  );
  return r?.n ?? 0;
}

/** Returns the space of deleted rows (not possible inside a transaction). */
export async function vacuumChangeLog(db: DbOrTx): Promise<void> {
  await db.execute(sql`vacuum (analyze, skip_locked) entity_changes`);
}
