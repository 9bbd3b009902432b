import { findTag } from "../claims/sql/tags.ts";
import type { DbOrTx } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import type { LoadedRule } from "../rules/types.ts";
import { applyDiff } from "./diff.ts";
import { evaluateScope } from "./evaluate-scope.ts";
import { baselineDetails } from "./incremental.ts";
import { recordRun } from "./record-run.ts";
import { guardHolds, runOnce } from "./rule-run.ts";
import type { RunOptions } from "./run-options.ts";
import { emptyResult, type RunResult } from "./run-result.ts";
import { currentSnapshot, lockChangeLogShared } from "./sql/change-log.ts";
import {
  clearPartition,
  copyStillValidChanges,
  everyNthEntity,
  forgetRun,
  insertPartition,
  partitionsBaseline,
  partitionTotals,
} from "./sql/partitions.ts";
import { createDiffTable } from "./sql/rule-diff.ts";
import { finishRun } from "./sql/rule-runs.ts";
import { evaluationSettings, lockRuleShared } from "./sql/run-session.ts";
import { countRuleClaims } from "./sql/scope.ts";

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
  const found = await everyNthEntity(db, type, asOf, size);
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
    await lockRuleShared(tx, def.id);
    await evaluationSettings(tx);
    await clearPartition(tx, spec.runKey, spec.partition);
    // The snapshot it evaluates under, so the applied run can be the start of incremental runs.
    await lockChangeLogShared(tx);
    const snapshot = await currentSnapshot(tx);
    const e = await evaluateScope(
      tx,
      loaded,
      { ...opts, dryRun: false },
      { after: spec.after, through: spec.through },
      { kind: "partition", runKey: spec.runKey, partition: spec.partition },
    );
    await insertPartition(tx, {
      runKey: spec.runKey,
      partition: spec.partition,
      ruleId: def.id,
      version: loaded.version,
      evaluated: e.evaluated,
      matched: e.matched,
      snapshot,
    });
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
  const base: RunResult = { ...emptyResult(loaded), partitions };
  // A retriable failure keeps the partitions' work for the retry of the apply.
  const forget = async (r: RunResult) => (r.retriable ? undefined : forgetRun(db, opts.runKey));
  return runOnce(
    db,
    loaded,
    opts,
    base,
    started,
    async (tx) => {
      const parts = await partitionTotals(tx, opts.runKey, loaded.version);
      if ((parts?.n ?? 0) !== partitions) {
        throw new Error(`only ${parts?.n ?? 0} of ${partitions} partitions of the run finished`);
      }
      if ((parts?.other_versions ?? 0) > 0) {
        throw new Error(`rule ${def.id} changed while the run was in progress; run it again`);
      }
      const r: RunResult = { ...base, evaluated: parts!.evaluated, matched: parts!.matched };
      await createDiffTable(tx);
      const tag = await findTag(tx, def.tag);
      if (tag) r.claimsBefore = await countRuleClaims(tx, loaded, tag.id);
      Object.assign(
        r,
        await copyStillValidChanges(tx, {
          runKey: opts.runKey,
          tagId: tag?.id,
          ruleId: def.id,
          type: def.target,
          asOf: opts.asOf,
        }),
      );
      const held = guardHolds(loaded, opts, r);
      if (held) return { ...r, status: "held", error: held };
      await lockChangeLogShared(tx);
      const common = await partitionsBaseline(tx, opts.runKey);
      r.runId = await recordRun(tx, loaded, opts, r, common && baselineDetails(common, opts.timezone));
      if (r.added + r.removed > 0) await applyDiff(tx, loaded, opts.asOf, r.runId);
      await finishRun(tx, r.runId, Date.now() - started);
      await forgetRun(tx, opts.runKey);
      return r;
    },
    forget,
  );
}
