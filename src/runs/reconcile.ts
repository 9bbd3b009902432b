import { findTag } from "../claims/sql/tags.ts";
import type { DbOrTx, Tx } from "../db/client.ts";
import type { LoadedRule } from "../rules/types.ts";
import { compileRule } from "./compile.ts";
import { applyDiff, diffPages, TEMP_DIFF } from "./diff.ts";
import { evaluateScope } from "./evaluate-scope.ts";
import { baselineDetails } from "./incremental.ts";
import { recordRun, runDetails } from "./record-run.ts";
import { guardHolds, runOnce } from "./rule-run.ts";
import type { RunOptions } from "./run-options.ts";
import { emptyResult, type RunResult } from "./run-result.ts";
import { chooseScope } from "./scope.ts";
import { createDiffTable } from "./sql/rule-diff.ts";
import { finishRun, updateRunCounts } from "./sql/rule-runs.ts";
import { countClaimsIn } from "./sql/scope.ts";

/**
 * Runs one rule as of an instant and reconciles its claims (DESIGN section 1):
 * level-based, idempotent, atomic (one transaction), serialized per rule by an
 * advisory lock, and guarded against mass removal. Only this rule's own claims
 * are ever added or removed.
 */
export async function runRule(db: DbOrTx, loaded: LoadedRule, opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const base = emptyResult(loaded);
  return runOnce(db, loaded, opts, base, started, (tx) => reconcile(tx, loaded, opts, base, started));
}

async function reconcile(
  tx: Tx,
  loaded: LoadedRule,
  opts: RunOptions,
  base: RunResult,
  started: number,
): Promise<RunResult> {
  const def = loaded.definition;
  const result: RunResult = { ...base };

  await createDiffTable(tx);
  const { scope, snapshot } = await chooseScope(tx, loaded, opts);
  const scoped = "ids" in scope;
  if ("changedSince" in scope) result.incrementalSince = scope.changedSince.runId;
  // Whether a run over every entity is one SQL statement (else json-rules-engine per entity).
  const compiled = !scoped && opts.evaluation !== "reference" && compileRule(def).ok;
  const baseline = snapshot && baselineDetails(snapshot, opts.timezone);
  // A compiled run over a tag that exists evaluates and applies in one statement, under a run row
  // recorded first: a run the guard holds is rolled back whole, like any run that is not applied.
  const tag = compiled && !opts.dryRun ? await findTag(tx, def.tag) : undefined;
  if (tag) result.runId = await recordRun(tx, loaded, opts, { ...result, status: "applied" }, baseline);
  const evaluation = await evaluateScope(
    tx,
    loaded,
    opts,
    scope,
    tag ? { kind: "apply", runId: result.runId!, tagId: tag.id } : TEMP_DIFF,
  );
  result.claimsBefore =
    evaluation.claimsBefore ?? (await countClaimsBefore(tx, loaded, scoped ? scope.ids : undefined));
  result.evaluated = evaluation.evaluated;
  result.matched = evaluation.matched;
  result.added = evaluation.added;
  result.removed = evaluation.removed;

  // A run over given entities is not judged by the guard: it touches only their claims.
  const held = scoped ? undefined : guardHolds(loaded, opts, result);
  if (opts.dryRun) {
    // The diff is read before the transaction rolls back: nothing of it outlives the dry run.
    await opts.onDiff?.(loaded, diffPages(tx, loaded, opts.asOf));
    return {
      ...result,
      status: "dry-run",
      samples: evaluation.samples,
      ...(held ? { wouldBeHeld: held } : {}),
    };
  }
  if (held) return { ...result, status: "held", error: held };

  if (tag) {
    await updateRunCounts(
      tx,
      result.runId!,
      { ...result, durationMs: Date.now() - started },
      {
        ...runDetails(opts, result),
        ...baseline,
      },
    );
    return result;
  }
  result.runId = await recordRun(tx, loaded, opts, { ...result, status: "applied" }, baseline);
  if (result.added + result.removed > 0) await applyDiff(tx, loaded, opts.asOf, result.runId);
  await finishRun(tx, result.runId, Date.now() - started);
  return result;
}

/** The rule's claims within the scope (the given entities, or all), before the run changes any. */
async function countClaimsBefore(tx: Tx, loaded: LoadedRule, ids: string[] | undefined): Promise<number> {
  const tag = await findTag(tx, loaded.definition.tag);
  // A scoped run counts the claims it could touch: counting them all would cost a scan per re-evaluation.
  return tag ? countClaimsIn(tx, loaded, tag.id, ids) : 0;
}
