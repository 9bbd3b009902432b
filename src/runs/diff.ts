import { ensureTag } from "../claims/sql/tags.ts";
import type { Tx } from "../db/client.ts";
import type { LoadedRule } from "../rules/types.ts";
import { diffWrites, writeDiffTable } from "./sql/rule-diff.ts";

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
 * Writes the run's temporary diff: claims and one tag event per change,
 * set-based and in key order. The diff only adds claims the rule does not
 * hold and removes claims it holds, under the rule's lock, so no write can
 * conflict.
 */
export async function applyDiff(tx: Tx, loaded: LoadedRule, asOf: Date, runId: number): Promise<void> {
  const tag = await ensureTag(tx, loaded.definition.tag);
  await writeDiffTable(tx, diffWrites(loaded, asOf, { runId, tagId: tag.id }));
}
