import type { TagRow } from "../claims/sql/tags.ts";
import type { Tx } from "../db/client.ts";
import { calendarDate } from "../facts/time.ts";
import type { LoadedRule } from "../rules/types.ts";
import { type CompiledRule, entityScope } from "./compile.ts";
import type { DiffTarget } from "./diff.ts";
import type { ScopeEvaluation } from "./evaluate-scope.ts";
import { absentExplanation, readableExplanation } from "./explanation.ts";
import type { RunPolicy } from "./run-options.ts";
import type { Scope } from "./scope.ts";
import { runCompiled } from "./sql/compiled-run.ts";
import { appliedDiffCte, diffSamples, diffWrites, insertDiffCte } from "./sql/rule-diff.ts";
import { anySuppressions, candidateIds, ruleClaimCount } from "./sql/scope.ts";

/**
 * Evaluates a compiled rule over a whole key range, or the changed entities,
 * in one statement: every entity decided (the statement's want column is
 * decide()'s SQL twin), the rule's claims on entities that did not exist
 * removed, and the changes written into the target, or applied.
 */
export async function evaluateCompiled(
  tx: Tx,
  loaded: LoadedRule,
  compiled: CompiledRule,
  opts: Pick<RunPolicy, "asOf" | "timezone">,
  scope: Exclude<Scope, { ids: string[] }>,
  target: DiffTarget,
  tag: TagRow | undefined,
  sampleLimit: number,
): Promise<ScopeEvaluation> {
  const def = loaded.definition;
  const source = `rule:${def.id}`;
  const type = def.target;
  const asOf = opts.asOf.toISOString();
  const today = calendarDate(opts.asOf, opts.timezone);
  const changedSince = "changedSince" in scope;
  const range = changedSince
    ? { after: null, through: null }
    : { after: scope.after, through: scope.through };
  // An incremental run decides only the entities that changed since its baseline.
  const only = changedSince ? candidateIds : undefined;
  const noSuppressions = !(await anySuppressions(tx, tag?.id ?? null, type));
  const c = await runCompiled(tx, {
    evaluation: compiled.evaluation(
      { type, asOf: opts.asOf, today, timezone: opts.timezone, range, ...(only ? { only } : {}) },
      { source, tagId: tag?.id ?? null, ruleId: def.id, noSuppressions },
    ),
    source,
    tagId: tag?.id ?? null,
    type,
    inScope: (id) => entityScope(id, { range, only }),
    asOf,
    absent: absentExplanation(loaded, asOf),
    writes:
      target.kind === "apply" ? appliedDiffCte(diffWrites(loaded, opts.asOf, target)) : insertDiffCte(target),
    ...(changedSince ? { claimsBefore: ruleClaimCount(loaded, tag?.id ?? null) } : {}),
  });
  const out: ScopeEvaluation = { ...c, samples: { added: [], removed: [] } };
  // Outside the changed entities the claims already are the match set.
  if (changedSince) out.matched = c.claimsBefore + c.added - c.removed;
  if (sampleLimit > 0 && target.kind === "temp") {
    for (const p of await diffSamples(tx, sampleLimit)) {
      (p.action === "add" ? out.samples.added : out.samples.removed).push({
        entityId: p.entity_id,
        explanation: readableExplanation(loaded, asOf, p.explanation),
      });
    }
  }
  return out;
}
