import { sql } from "drizzle-orm";
import { findTag } from "../claims/sql/tags.ts";
import type { DbOrTx } from "../db/client.ts";
import { rows } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { createdColumn, entityTable } from "../facts/sql/entities.ts";
import type { LoadedRule } from "../rules/types.ts";
import { baselineDetails, commonSnapshot, PRUNE_LOCK } from "./incremental.ts";
import {
  analyzeAfter,
  applyDiff,
  createDiffTable,
  DEFAULT_GUARD_MIN_CLAIMS,
  emptyResult,
  evaluateScope,
  evaluationSettings,
  failedResult,
  lockKey,
  partitionTarget,
  Rollback,
  type RunOptions,
  type RunResult,
  recordedRun,
  recordRun,
  ruleClaimCount,
} from "./reconcile.ts";

/**
 * A rule run shared by several processes: partitions evaluate key ranges in
 * parallel and leave their changes in `run_partition_changes`; the run is
 * then applied once, in one transaction under the rule's lock, with the
 * mass-removal guard judged over the total. The outcome is the one a single
 * process would reach (same claims, same tag events, one recorded run).
 */

/** Key ranges of at most `size` entities each: partition i covers ids after bounds[i-1] through bounds[i]. */
export async function partitionBounds(
  db: DbOrTx,
  type: "user" | "account",
  asOf: Date,
  size: number,
): Promise<{ total: number; bounds: (string | null)[] }> {
  const table = entityTable(type);
  const created = createdColumn(type);
  const found = await rows<{ id: string; n: number }>(
    db,
    sql`select id, n::int as n from (
          select id, row_number() over (order by id) as n, count(*) over () as total
          from ${table} where ${created} <= ${asOf.toISOString()}::timestamptz
        ) ranked
        where n % ${size} = 0 or n = total
        order by id`,
  );
  const total = found.length === 0 ? 0 : found[found.length - 1]!.n;
  // The last range is open-ended, so entities created after the split still belong to one partition.
  const bounds: (string | null)[] = found.filter((r) => r.n % size === 0 && r.n < total).map((r) => r.id);
  bounds.push(null);
  return { total, bounds };
}

export interface PartitionSpec {
  runKey: string;
  partition: number;
  /** Exclusive lower bound (null: from the first entity). */
  after: string | null;
  /** Inclusive upper bound (null: to the last entity). */
  through: string | null;
}

/**
 * Evaluates one partition and stores its changes. Running a partition again
 * (its worker died) replaces what it stored before. It takes the rule's lock
 * shared: partitions run side by side, never while a run of the rule applies.
 */
export async function evaluatePartition(
  db: DbOrTx,
  loaded: LoadedRule,
  opts: RunOptions,
  spec: PartitionSpec,
): Promise<{ evaluated: number; matched: number; added: number; removed: number }> {
  const def = loaded.definition;
  return inTransaction(db, async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock_shared(${lockKey(def.id)})`);
    await evaluationSettings(tx);
    await tx.execute(
      sql`delete from run_partition_changes where run_key = ${spec.runKey} and partition = ${spec.partition}`,
    );
    await tx.execute(
      sql`delete from run_partitions where run_key = ${spec.runKey} and partition = ${spec.partition}`,
    );
    // The snapshot it evaluates under, so the applied run can be the start of incremental runs.
    await tx.execute(sql`select pg_advisory_xact_lock_shared(${PRUNE_LOCK})`);
    const [{ snapshot } = { snapshot: null }] = await rows<{ snapshot: string }>(
      tx,
      sql`select pg_current_snapshot()::text as snapshot`,
    );
    const e = await evaluateScope(
      tx,
      loaded,
      { ...opts, dryRun: false },
      { after: spec.after, through: spec.through },
      partitionTarget(spec.runKey, spec.partition),
    );
    await tx.execute(sql`
      insert into run_partitions (run_key, partition, rule_id, rule_version, evaluated, matched, snapshot)
      values (${spec.runKey}, ${spec.partition}, ${def.id}, ${loaded.version}, ${e.evaluated}, ${e.matched},
              ${snapshot})`);
    return { evaluated: e.evaluated, matched: e.matched, added: e.added, removed: e.removed };
  });
}

/**
 * Applies a partitioned run once every partition has finished. Each stored
 * change is checked again against the claims at this moment, so a change made
 * in between (an entity re-evaluated on new activity) is neither undone nor
 * written twice. Idempotent per run key: applying again returns the recorded run.
 */
export async function applyPartitionedRun(
  db: DbOrTx,
  loaded: LoadedRule,
  opts: RunOptions & { runKey: string },
  partitions: number,
): Promise<RunResult> {
  const started = Date.now();
  const def = loaded.definition;
  const source = `rule:${def.id}`;
  const type = def.target;
  const base: RunResult = { ...emptyResult(loaded), partitions };
  let result: RunResult;
  let replayed = false;
  try {
    result = await inTransaction(db, async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${lockKey(def.id)})`);
      await evaluationSettings(tx);
      const recorded = await recordedRun(tx, loaded, opts.runKey);
      if (recorded) {
        replayed = true;
        throw new Rollback(recorded);
      }
      const [parts] = await rows<{ n: number; evaluated: number; matched: number; other_versions: number }>(
        tx,
        sql`select count(*)::int as n, coalesce(sum(evaluated), 0)::int as evaluated,
                   coalesce(sum(matched), 0)::int as matched,
                   count(*) filter (where rule_version <> ${loaded.version})::int as other_versions
            from run_partitions where run_key = ${opts.runKey}`,
      );
      if ((parts?.n ?? 0) !== partitions) {
        throw new Error(`only ${parts?.n ?? 0} of ${partitions} partitions of the run finished`);
      }
      if ((parts?.other_versions ?? 0) > 0) {
        throw new Error(`rule ${def.id} changed while the run was in progress; run it again`);
      }
      const r: RunResult = { ...base, evaluated: parts!.evaluated, matched: parts!.matched };
      await createDiffTable(tx);
      const tag = await findTag(tx, def.tag);
      if (tag) {
        const [row] = await rows<{ n: number }>(tx, sql`select ${ruleClaimCount(loaded, tag.id)} as n`);
        r.claimsBefore = row?.n ?? 0;
      }
      const claimed = tag
        ? sql`exists (select 1 from claims c where c.source = ${source} and c.tag_id = ${tag.id}
                        and c.entity_type = ${type} and c.entity_id = p.entity_id)`
        : sql`false`;
      const suppressed = tag
        ? sql`exists (select 1 from suppressions s where s.tag_id = ${tag.id} and s.entity_type = ${type}
                        and s.entity_id = p.entity_id and (s.rule_id is null or s.rule_id = ${def.id})
                        and s.lifted_at is null and (s.until is null or s.until > ${opts.asOf.toISOString()}::timestamptz))`
        : sql`false`;
      const [counts] = await rows<{ added: number; removed: number }>(
        tx,
        sql`with ins as (
              insert into rule_diff (entity_id, action, explanation)
              select p.entity_id, p.action, p.explanation from run_partition_changes p
              where p.run_key = ${opts.runKey}
                and ((p.action = 'add' and not ${claimed} and not ${suppressed})
                     or (p.action = 'remove' and ${claimed}))
              returning action)
            select count(*) filter (where action = 'add')::int as added,
                   count(*) filter (where action = 'remove')::int as removed from ins`,
      );
      r.added = counts?.added ?? 0;
      r.removed = counts?.removed ?? 0;

      const guard = def.removalGuard ?? opts.removalGuard;
      const minClaims = opts.removalGuardMinClaims ?? DEFAULT_GUARD_MIN_CLAIMS;
      if (!opts.force && r.claimsBefore >= minClaims && r.removed > 0 && r.removed > guard * r.claimsBefore) {
        throw new Rollback({
          ...r,
          status: "held",
          error: `would remove ${r.removed} of ${r.claimsBefore} claims (more than ${Math.round(guard * 100)} %); run with --force to apply`,
        });
      }
      // What every partition saw, recorded as the rule's baseline (none if a partition recorded no snapshot).
      await tx.execute(sql`select pg_advisory_xact_lock_shared(${PRUNE_LOCK})`);
      const [common] = await rows<{ snapshot: string; xid: string }>(
        tx,
        sql`select c.snapshot, pg_current_xact_id()::text as xid
            from (${commonSnapshot(sql`select snapshot::pg_snapshot as s from run_partitions where run_key = ${opts.runKey}`)}) c
            where not exists (select 1 from run_partitions where run_key = ${opts.runKey} and snapshot is null)`,
      );
      r.runId = await recordRun(tx, loaded, opts, r, common && baselineDetails(common, opts.timezone));
      if (r.added + r.removed > 0) await applyDiff(tx, loaded, opts, r.runId);
      await tx.execute(
        sql`update rule_runs set finished_at = now(), duration_ms = ${Date.now() - started} where id = ${r.runId}`,
      );
      await forgetRun(tx, opts.runKey);
      return r;
    });
  } catch (err) {
    result = err instanceof Rollback ? err.result : failedResult(base, err);
  }
  if (replayed) return result;
  if (result.status === "applied") await analyzeAfter(db, result);
  result.durationMs = Date.now() - started;
  if (result.status === "held" || result.status === "failed") {
    result.runId = await recordRun(db, loaded, opts, result);
    // A retriable failure keeps the partitions' work for the retry of the apply.
    if (!result.retriable) await forgetRun(db, opts.runKey);
  }
  return result;
}

/** Drops a run's stored partitions, and those of runs abandoned more than a day ago. */
async function forgetRun(db: DbOrTx, runKey: string): Promise<void> {
  await db.execute(sql`
    delete from run_partition_changes
    where run_key = ${runKey}
       or run_key in (select run_key from run_partitions where finished_at < now() - interval '1 day')`);
  await db.execute(
    sql`delete from run_partitions where run_key = ${runKey} or finished_at < now() - interval '1 day'`,
  );
}
