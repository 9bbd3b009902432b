import { findTag, type TagRow } from "../claims/sql/tags.ts";
import type { Tx } from "../db/client.ts";
import type { LoadedRule } from "../rules/types.ts";
import { compileRule } from "./compile.ts";
import type { DiffTarget } from "./diff.ts";
import { evaluateCompiled } from "./evaluate-compiled.ts";
import { evaluateReference } from "./evaluate-reference.ts";
import { absentExplanation } from "./explanation.ts";
import { changedEntities } from "./incremental.ts";
import { logLine, type RunHooks, type RunPolicy, type RunScope } from "./run-options.ts";
import type { SampleChange } from "./run-result.ts";
import type { Scope } from "./scope.ts";
import { insertAbsentRemovals } from "./sql/rule-diff.ts";
import { countRuleClaims, createCandidates } from "./sql/scope.ts";

export interface ScopeEvaluation {
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  /** The rule's claims in the scope before the run, when the evaluation counted them on the way. */
  claimsBefore?: number;
  samples: { added: SampleChange[]; removed: SampleChange[] };
}

/**
 * Evaluates the rule over one scope and writes the changes against the rule's
 * current claims into `target`: additions and removals, including the claims
 * on entities that did not exist at the as-of instant. A whole key range (or
 * the changed entities) evaluates as one statement when the rule compiles; a
 * few given entities are cheaper one by one with json-rules-engine.
 */
export async function evaluateScope(
  tx: Tx,
  loaded: LoadedRule,
  opts: RunPolicy & Pick<RunScope, "batchSize"> & RunHooks,
  scope: Scope,
  target: DiffTarget,
): Promise<ScopeEvaluation> {
  const def = loaded.definition;
  const sampleLimit = opts.dryRun ? (opts.samples ?? 10) : 0;
  const out: ScopeEvaluation = {
    evaluated: 0,
    matched: 0,
    added: 0,
    removed: 0,
    samples: { added: [], removed: [] },
  };
  const tag = await findTag(tx, def.tag);
  const changedSince = "changedSince" in scope ? scope.changedSince : undefined;
  let candidates = 0;
  if (changedSince) {
    candidates = await createCandidates(
      tx,
      changedEntities(loaded, changedSince, opts.asOf, tag?.id ?? null),
    );
    // Nothing changed: the claims are what the baseline run left.
    if (candidates === 0) return { ...out, matched: changedSince.claims, claimsBefore: changedSince.claims };
  }
  if (!("ids" in scope) && opts.evaluation !== "reference") {
    const compiled = compileRule(def);
    if (compiled.ok) {
      const done = await evaluateCompiled(tx, loaded, compiled.rule, opts, scope, target, tag, sampleLimit);
      opts.onProgress?.(done.evaluated, done.evaluated);
      return done;
    }
    logLine(
      opts,
      `rule ${def.id}: evaluated by json-rules-engine per entity, since it does not compile to SQL: ${compiled.reason}`,
    );
  }
  if (target.kind === "apply") throw new Error(`rule ${def.id}: only a compiled run applies as it evaluates`);
  await evaluateReference(tx, loaded, opts, scope, target, tag, candidates, out, sampleLimit);
  await removeClaimsOfAbsentEntities(tx, loaded, opts.asOf, scope, target, tag, out, sampleLimit);
  if (changedSince) {
    // Outside the changed entities the claims already are the match set (the diff is not applied yet).
    out.claimsBefore = await countRuleClaims(tx, loaded, tag?.id ?? null);
    out.matched = out.claimsBefore + out.added - out.removed;
  }
  return out;
}

/** Entities created after the as-of instant did not exist then: the rule leaves them untagged. */
async function removeClaimsOfAbsentEntities(
  tx: Tx,
  loaded: LoadedRule,
  asOf: Date,
  scope: Scope,
  target: Exclude<DiffTarget, { kind: "apply" }>,
  tag: TagRow | undefined,
  out: ScopeEvaluation,
  sampleLimit: number,
): Promise<void> {
  if (!tag) return;
  const def = loaded.definition;
  const reason = absentExplanation(loaded, asOf.toISOString());
  const gone = await insertAbsentRemovals(tx, target, {
    source: `rule:${def.id}`,
    tagId: tag.id,
    type: def.target,
    asOf: asOf.toISOString(),
    scope,
    reason,
  });
  out.removed += gone.length;
  for (const id of gone.slice(0, Math.max(0, sampleLimit - out.samples.removed.length))) {
    out.samples.removed.push({ entityId: id, explanation: reason });
  }
}
