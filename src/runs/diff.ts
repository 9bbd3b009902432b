import { ensureTag } from "../claims/sql/tags.ts";
import { csvLine } from "../csv.ts";
import type { Tx } from "../db/client.ts";
import type { LoadedRule } from "../rules/types.ts";
import { type Explanation, readableExplanation } from "./explanation.ts";
import { explanationSentences, explanationWithWords } from "./explanation-words.ts";
import { diffPage, diffWrites, indexDiffTable, writeDiffTable } from "./sql/rule-diff.ts";

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

/** One change of a dry run's diff, as a person reads it. */
export interface DiffChange {
  entityType: "user" | "account";
  entityId: string;
  tag: string;
  change: "add" | "remove";
  /** Why, in words: the conditions that decided it, each with the entity's value. */
  words: string;
  /** The whole explanation, with words on every condition. */
  explanation: Explanation;
}

/** Rows of a dry run's diff read at a time: a page's memory is bounded, whatever the diff's size. */
export const DIFF_PAGE = 1000;

/**
 * The run's temporary diff, additions then removals, each by entity id, in
 * pages read by key inside the run's transaction. Read it before the
 * transaction ends (a dry run rolls back, and the table with it).
 */
export async function* diffPages(
  tx: Tx,
  loaded: LoadedRule,
  asOf: Date,
  pageSize = DIFF_PAGE,
): AsyncGenerator<DiffChange[]> {
  const def = loaded.definition;
  const at = asOf.toISOString();
  await indexDiffTable(tx);
  let after: { action: string; entityId: string } | undefined;
  for (;;) {
    const page = await diffPage(tx, after, pageSize);
    if (page.length === 0) return;
    yield page.map((r) => {
      const explanation = explanationWithWords(readableExplanation(loaded, at, r.explanation), def.name);
      return {
        entityType: def.target,
        entityId: r.entity_id,
        tag: def.tag,
        change: r.action,
        words: explanationSentences(explanation, r.action).join("; "),
        explanation,
      };
    });
    const last = page[page.length - 1]!;
    after = { action: last.action, entityId: last.entity_id };
    if (page.length < pageSize) return;
  }
}

/** The header of a diff file. */
export const DIFF_CSV_HEADER = "entity_type,entity_id,tag,change,explanation\n";

/** Diff changes as lines of a diff file. */
export function diffCsvLines(changes: readonly DiffChange[]): string {
  return changes.map((c) => csvLine([c.entityType, c.entityId, c.tag, c.change, c.words])).join("");
}
