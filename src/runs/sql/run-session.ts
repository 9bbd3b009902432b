import { type SQL, sql } from "drizzle-orm";
import type { DbOrTx, Tx } from "../../db/client.ts";

/** A run's transaction: its session settings, the rule's advisory lock, and statistics once it changed much. */

/**
 * Session settings for the transaction of a run that evaluates many entities:
 * JIT compilation costs more than it saves on these statements, whose
 * expressions are cheap and whose time goes to joins, and the default
 * work_mem splits the hash joins and sorts of a million entities (and of a
 * first run's tag events, explanations included) into batches on disk.
 */
export async function evaluationSettings(tx: Tx): Promise<void> {
  await tx.execute(sql`select set_config('jit', 'off', true), set_config('work_mem', ${RUN_WORK_MEM}, true)`);
}

const RUN_WORK_MEM = "256MB";

/** The advisory lock key of a rule: its runs are serialized on it. */
export function lockKey(ruleId: string): SQL {
  return sql`hashtextextended(${`signaltag:rule:${ruleId}`}, 0)`;
}

/** Holds the rule's lock for the transaction: no other run of it, nor partition, runs meanwhile. */
export async function lockRule(tx: Tx, ruleId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${lockKey(ruleId)})`);
}

/** Holds the rule's lock shared: partitions of one run side by side, never while a run of it applies. */
export async function lockRuleShared(tx: Tx, ruleId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock_shared(${lockKey(ruleId)})`);
}

/**
 * Fresh statistics of the claims and the change log after a run changed
 * many: until autovacuum gets there the planner takes a table a first run
 * filled for empty, and the next run's joins against it (removing claims)
 * become nested loops over every claim. The change log grew by as many rows:
 * taken for nearly empty, it is read through its txid index, every rule's
 * changes, instead of one rule's by kind (see changedEntities).
 */
export async function analyzeClaims(db: DbOrTx): Promise<void> {
  await db.execute(sql`analyze claims, entity_changes`);
}
