import { sql } from "drizzle-orm";
import { type DbOrTx, rows, type Tx } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import { createdColumn, entityTable } from "../../facts/sql/entities.ts";
import type { RunSnapshot } from "../incremental.ts";
import { commonSnapshot } from "./change-log.ts";

/** A partitioned run's stored work: run_partitions (one row per partition) and run_partition_changes. */

/** Every `size`-th entity id in key order (and the last), with its rank: the bounds of key ranges. */
export async function everyNthEntity(
  db: DbOrTx,
  type: EntityType,
  asOf: Date,
  size: number,
): Promise<{ id: string; n: number }[]> {
  const table = entityTable(type);
  const created = createdColumn(type);
  return rows<{ id: string; n: number }>(
    db,
    sql`select id, n::int as n from (
          select id, row_number() over (order by id) as n, count(*) over () as total
          from ${table} where ${created} <= ${asOf.toISOString()}::timestamptz
        ) ranked
        where n % ${size} = 0 or n = total
        order by id`,
  );
}

/** Drops what an earlier attempt at this partition stored. */
export async function clearPartition(tx: Tx, runKey: string, partition: number): Promise<void> {
  await tx.execute(
    sql`delete from run_partition_changes where run_key = ${runKey} and partition = ${partition}`,
  );
  await tx.execute(sql`delete from run_partitions where run_key = ${runKey} and partition = ${partition}`);
}

/** Records a partition as evaluated, with its counts and the snapshot it evaluated under. */
export async function insertPartition(
  tx: Tx,
  p: {
    runKey: string;
    partition: number;
    ruleId: string;
    version: string;
    evaluated: number;
    matched: number;
    snapshot: string | null;
  },
): Promise<void> {
  await tx.execute(sql`
      insert into run_partitions (run_key, partition, rule_id, rule_version, evaluated, matched, snapshot)
      values (${p.runKey}, ${p.partition}, ${p.ruleId}, ${p.version}, ${p.evaluated}, ${p.matched},
              ${p.snapshot})`);
}

/** The partitions of a run that finished: how many, their counts, and how many evaluated another rule version. */
export async function partitionTotals(
  tx: Tx,
  runKey: string,
  version: string,
): Promise<{ n: number; evaluated: number; matched: number; other_versions: number } | undefined> {
  const [parts] = await rows<{ n: number; evaluated: number; matched: number; other_versions: number }>(
    tx,
    sql`select count(*)::int as n, coalesce(sum(evaluated), 0)::int as evaluated,
               coalesce(sum(matched), 0)::int as matched,
               count(*) filter (where rule_version <> ${version})::int as other_versions
        from run_partitions where run_key = ${runKey}`,
  );
  return parts;
}

/**
 * Copies the run's stored changes into its temporary diff, each checked again
 * against the claims and suppressions at this moment: an addition of a claim
 * the rule holds by now, or that a suppression now holds back, and a removal
 * of a claim it no longer holds, are dropped. Returns the counts copied.
 */
export async function copyStillValidChanges(
  tx: Tx,
  p: { runKey: string; tagId: number | undefined; ruleId: string; type: EntityType; asOf: Date },
): Promise<{ added: number; removed: number }> {
  const claimed =
    p.tagId === undefined
      ? sql`false`
      : sql`exists (select 1 from claims c where c.source = ${`rule:${p.ruleId}`} and c.tag_id = ${p.tagId}
                        and c.entity_type = ${p.type} and c.entity_id = p.entity_id)`;
  const suppressed =
    p.tagId === undefined
      ? sql`false`
      : sql`exists (select 1 from suppressions s where s.tag_id = ${p.tagId} and s.entity_type = ${p.type}
                        and s.entity_id = p.entity_id and (s.rule_id is null or s.rule_id = ${p.ruleId})
                        and s.lifted_at is null and (s.until is null or s.until > ${p.asOf.toISOString()}::timestamptz))`;
  const [counts] = await rows<{ added: number; removed: number }>(
    tx,
    sql`with ins as (
          insert into rule_diff (entity_id, action, explanation)
          select p.entity_id, p.action, p.explanation from run_partition_changes p
          where p.run_key = ${p.runKey}
            and ((p.action = 'add' and not ${claimed} and not ${suppressed})
                 or (p.action = 'remove' and ${claimed}))
          returning action)
        select count(*) filter (where action = 'add')::int as added,
               count(*) filter (where action = 'remove')::int as removed from ins`,
  );
  return { added: counts?.added ?? 0, removed: counts?.removed ?? 0 };
}

/**
 * What every partition of the run saw, as one snapshot, with this
 * transaction's id: the applied run's baseline. None if a partition recorded
 * no snapshot.
 */
export async function partitionsBaseline(tx: Tx, runKey: string): Promise<RunSnapshot | undefined> {
  const [common] = await rows<RunSnapshot>(
    tx,
    sql`select c.snapshot, pg_current_xact_id()::text as xid
        from (${commonSnapshot(sql`select snapshot::pg_snapshot as s from run_partitions where run_key = ${runKey}`)}) c
        where not exists (select 1 from run_partitions where run_key = ${runKey} and snapshot is null)`,
  );
  return common;
}

/** Drops a run's stored partitions, and those of runs abandoned more than a day ago. */
export async function forgetRun(db: DbOrTx, runKey: string): Promise<void> {
  await db.execute(sql`
    delete from run_partition_changes
    where run_key = ${runKey}
       or run_key in (select run_key from run_partitions where finished_at < now() - interval '1 day')`);
  await db.execute(
    sql`delete from run_partitions where run_key = ${runKey} or finished_at < now() - interval '1 day'`,
  );
}

/** Runs with stored partitions, newest partition first in each: at most `limit`, the most recent first. */
export async function storedPartitionRuns(
  db: DbOrTx,
  limit: number,
): Promise<
  { run_key: string; rule_id: string; partitions: number; newest_partition: number; last_at: string }[]
> {
  return rows(
    db,
    sql`select run_key, rule_id, count(*)::int as partitions,
               (array_agg(partition order by finished_at desc))[1] as newest_partition,
               to_char(max(finished_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as last_at
        from run_partitions group by run_key, rule_id order by max(finished_at) desc limit ${limit}`,
  );
}
