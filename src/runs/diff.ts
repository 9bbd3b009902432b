import { type SQL, sql } from "drizzle-orm";
import { ensureTag } from "../claims/sql/tags.ts";
import { claimChangeWrites } from "../claims/write-changes.ts";
import type { Tx } from "../db/client.ts";
import type { LoadedRule } from "../rules/types.ts";
import { writeDiffTable } from "./sql/rule-diff.ts";

/**
 * Where an evaluation's changes go: the run's temporary diff, a partition's
 * rows of a partitioned run, or (`apply`) straight into claims and tag events
 * under the given run, in the same statement that evaluates.
 */
export type DiffTarget =
  | { kind: "temp" }
  | { kind: "partition"; runKey: string; partition: number }
  | { kind: "apply"; runId: number; tagId: number };

export const TEMP_DIFF: DiffTarget = { kind: "temp" };

/**
 * The writes of a diff, as CTEs over a relation `diff` (entity_id, action,
 * explanation) of the same statement: tag events (additions first, each in
 * key order, membership changed where no other source holds the tag), then
 * the claims. A compiled run writes them from the statement that evaluates;
 * applyDiff from the run's temporary diff.
 */
export function diffWrites(loaded: LoadedRule, asOf: Date, apply: { runId: number; tagId: number }): SQL {
  const def = loaded.definition;
  return claimChangeWrites({
    type: def.target,
    from: sql`diff d`,
    action: sql`d.action`,
    entityId: sql`d.entity_id`,
    tagId: sql`${apply.tagId}`,
    source: sql`${`rule:${def.id}`}`,
    event: {
      rule: {
        id: sql`${def.id}`,
        version: sql`${loaded.version}`,
        runId: sql`${apply.runId}`,
        asOf: sql`${asOf.toISOString()}::timestamptz`,
      },
      explanation: sql`d.explanation`,
    },
    order: sql`d.action, d.entity_id`,
    addOrder: sql`d.entity_id`,
  });
}

/**
 * Writes the run's temporary diff: claims and one tag event per change,
 * set-based and in key order. The diff only adds claims the rule does not
 * hold and removes claims it holds, under the rule's lock, so no write can
 * conflict.
 */
export async function applyDiff(tx: Tx, loaded: LoadedRule, asOf: Date, runId: number): Promise<void> {
  const tag = await ensureTag(tx, loaded.definition.tag);
  await writeDiffTable(tx, diffWrites(loaded, asOf, { runId, tagId: tag.id }));
}
