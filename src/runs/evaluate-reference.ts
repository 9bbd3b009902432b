import type { TagRow } from "../claims/sql/tags.ts";
import type { Tx } from "../db/client.ts";
import { computeFacts } from "../facts/compute.ts";
import { countEntities } from "../facts/sql/entity-batch.ts";
import { calendarDate } from "../facts/time.ts";
import type { LoadedRule } from "../rules/types.ts";
import { claimedAfter, decide } from "./decide.ts";
import type { DiffTarget } from "./diff.ts";
import { RuleEvaluator } from "./evaluate.ts";
import type { ScopeEvaluation } from "./evaluate-scope.ts";
import { type Explanation, ruleExplanation } from "./explanation.ts";
import type { RunHooks, RunPolicy, RunScope } from "./run-options.ts";
import { type Scope, scopeBatches } from "./scope.ts";
import { insertDiffRows } from "./sql/rule-diff.ts";
import { claimsAndSuppressions } from "./sql/scope.ts";

const DEFAULT_BATCH = 2000;

/**
 * Evaluates the rule with json-rules-engine, entity by entity, a batch at a
 * time: the semantic definition of a rule, and the path of a few given
 * entities and of rules that do not compile. Each batch's changes go into the
 * target in one statement.
 */
export async function evaluateReference(
  tx: Tx,
  loaded: LoadedRule,
  opts: Pick<RunPolicy, "asOf" | "timezone"> & Pick<RunScope, "batchSize"> & Pick<RunHooks, "onProgress">,
  scope: Scope,
  target: Exclude<DiffTarget, { kind: "apply" }>,
  tag: TagRow | undefined,
  /** How many entities the scope has, when it was counted already (the changed entities). */
  candidates: number,
  out: ScopeEvaluation,
  sampleLimit: number,
): Promise<void> {
  const def = loaded.definition;
  const type = def.target;
  const asOf = opts.asOf.toISOString();
  const today = calendarDate(opts.asOf, opts.timezone);
  const evaluator = new RuleEvaluator(loaded);
  const total =
    "ids" in scope
      ? scope.ids.length
      : "changedSince" in scope
        ? candidates
        : opts.onProgress
          ? await countEntities(tx, type, opts.asOf)
          : 0;
  const facts = { type, asOf: opts.asOf, today, timezone: opts.timezone, requests: evaluator.requests };
  for await (const batch of scopeBatches(tx, scope, facts, opts.batchSize ?? DEFAULT_BATCH)) {
    const state = tag
      ? await claimsAndSuppressions(tx, { ruleId: def.id, tagId: tag.id, type, asOf, keys: batch.keys })
      : { claimed: new Set<string>(), suppressed: new Set<string>() };
    const diff: { id: string; action: "add" | "remove"; explanation: Explanation }[] = [];
    for (const entity of batch.entities) {
      const evaluation = await evaluator.evaluate(computeFacts(entity, evaluator.requests, today));
      const held = state.claimed.has(entity.id);
      const decision = decide({
        matched: evaluation.matched,
        exitMatched: evaluation.exitMatched,
        held,
        suppressed: state.suppressed.has(entity.id),
      });
      const want = claimedAfter(decision);
      if (want) out.matched++;
      if (want === held) continue;
      const change = {
        id: entity.id,
        action: want ? ("add" as const) : ("remove" as const),
        explanation: ruleExplanation(loaded, asOf, evaluation),
      };
      diff.push(change);
      const bucket = want ? out.samples.added : out.samples.removed;
      if (bucket.length < sampleLimit) bucket.push({ entityId: entity.id, explanation: change.explanation });
    }
    out.evaluated += batch.entities.length;
    if (diff.length > 0) {
      await insertDiffRows(tx, target, diff);
      for (const d of diff) {
        if (d.action === "add") out.added++;
        else out.removed++;
      }
    }
    opts.onProgress?.(out.evaluated, total);
  }
}
