import { ensureTag } from "../claims/sql/tags.ts";
import type { DbOrTx, Tx } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { computeFacts, type FactRequest } from "../facts/compute.ts";
import { loadEntityBatch } from "../facts/sql/entity-batch.ts";
import { calendarDate } from "../facts/time.ts";
import type { LoadedRule } from "../rules/types.ts";
import { claimedAfter, decide } from "./decide.ts";
import { EntityClaims } from "./entity-claims.ts";
import { RuleEvaluator } from "./evaluate.ts";
import { absentExplanation, type Explanation, ruleExplanation } from "./explanation.ts";
import { runDetails } from "./record-run.ts";
import type { RunOptions } from "./run-options.ts";
import { emptyResult, type RunResult } from "./run-result.ts";
import {
  claimsOnEntities,
  type EntityClaimChange,
  type EntityRunRecord,
  lockRules,
  suppressionsOnEntities,
  tagsNamed,
  writeEntityRuns,
} from "./sql/entity-reevaluation.ts";
import { lockKey } from "./sql/run-session.ts";

/**
 * Re-evaluates a few entities against several rules of their type (in
 * dependency order) in one transaction: the rules' advisory locks taken in
 * rule-id order, facts, claims and suppressions loaded once, and every rule's
 * run, tag events and claim changes written in one statement. The outcome is
 * the one runRule with `entityIds` reaches rule after rule: the same claims,
 * the same tag events, one rule_runs row per rule. Throws when anything fails,
 * leaving nothing changed; the caller then runs the rules one by one, so a
 * failing rule is recorded as failed and the others still apply.
 */
export async function reconcileEntitiesAtOnce(
  db: DbOrTx,
  rules: LoadedRule[],
  type: "user" | "account",
  entityIds: string[],
  opts: Omit<RunOptions, "entityIds" | "dryRun" | "runKey">,
): Promise<RunResult[]> {
  const started = Date.now();
  const ids = [...new Set(entityIds)].sort();
  const results = await inTransaction(db, (tx) =>
    evaluateAndWrite(tx, rules, type, ids, { ...opts, entityIds }, started),
  );
  const durationMs = Date.now() - started;
  for (const r of results) r.durationMs = durationMs;
  return results;
}

async function evaluateAndWrite(
  tx: Tx,
  rules: LoadedRule[],
  type: "user" | "account",
  ids: string[],
  opts: Omit<RunOptions, "dryRun" | "runKey">,
  started: number,
): Promise<RunResult[]> {
  const asOf = opts.asOf.toISOString();
  const today = calendarDate(opts.asOf, opts.timezone);
  const evaluators = rules.map((r) => new RuleEvaluator(r));
  // The `tags` fact comes from the claims kept here, not from the database.
  const requests = new Map<string, FactRequest>();
  for (const e of evaluators) for (const r of e.requests) if (r.fact !== "tags") requests.set(r.key, r);
  const byId = [...rules].sort((a, b) => (a.definition.id < b.definition.id ? -1 : 1));

  // Sent together: the locks first, so every read below starts once they are held.
  const [, tagRows, claimRows, suppressionRows, entities] = await Promise.all([
    lockRules(
      tx,
      byId.map((r) => lockKey(r.definition.id)),
    ),
    tagsNamed(
      tx,
      rules.map((r) => r.definition.tag),
    ),
    claimsOnEntities(tx, type, ids),
    suppressionsOnEntities(tx, type, ids, opts.asOf),
    loadEntityBatch(
      tx,
      { type, asOf: opts.asOf, today, timezone: opts.timezone, requests: [...requests.values()] },
      { ids },
    ),
  ]);
  const tagIds = new Map(tagRows.map((t) => [t.name.toLowerCase(), t.id]));
  const claims = new EntityClaims();
  for (const c of claimRows) claims.add(c.entity_id, c.tag, c.source);
  const suppressed = (entityId: string, tagId: number | undefined, ruleId: string) =>
    tagId !== undefined &&
    suppressionRows.some(
      (s) => s.entity_id === entityId && s.tag_id === tagId && (s.rule_id === null || s.rule_id === ruleId),
    );
  const existing = new Set(entities.map((e) => e.id));

  const results: RunResult[] = [];
  const runs: EntityRunRecord[] = [];
  const changes: EntityClaimChange[] = [];
  for (const [i, loaded] of rules.entries()) {
    const def = loaded.definition;
    const source = `rule:${def.id}`;
    const evaluator = evaluators[i]!;
    const result = emptyResult(loaded);
    result.claimsBefore = ids.filter((id) => claims.has(id, def.tag, source)).length;
    const diff: { id: string; add: boolean; explanation: Explanation }[] = [];
    for (const entity of entities) {
      entity.tags = claims.names(entity.id);
      const evaluation = await evaluator.evaluate(computeFacts(entity, evaluator.requests, today));
      const has = claims.has(entity.id, def.tag, source);
      const want = claimedAfter(
        decide({
          matched: evaluation.matched,
          exitMatched: evaluation.exitMatched,
          held: has,
          suppressed: suppressed(entity.id, tagIds.get(def.tag.toLowerCase()), def.id),
        }),
      );
      if (want) result.matched++;
      if (want !== has)
        diff.push({ id: entity.id, add: want, explanation: ruleExplanation(loaded, asOf, evaluation) });
    }
    // Entities created after the as-of instant did not exist then: the rule leaves them untagged.
    for (const id of ids) {
      if (!existing.has(id) && claims.has(id, def.tag, source)) {
        diff.push({ id, add: false, explanation: absentExplanation(loaded, asOf) });
      }
    }
    result.evaluated = entities.length;
    result.added = diff.filter((d) => d.add).length;
    result.removed = diff.length - result.added;

    let tagId = tagIds.get(def.tag.toLowerCase());
    if (result.added > 0 && tagId === undefined) {
      tagId = (await ensureTag(tx, def.tag)).id;
      tagIds.set(def.tag.toLowerCase(), tagId);
    }
    // As a run writes them: additions, then removals, each by entity id.
    const ordered = [...diff].sort((a, b) => (a.add === b.add ? (a.id < b.id ? -1 : 1) : a.add ? -1 : 1));
    for (const d of ordered) {
      changes.push({
        ruleId: def.id,
        version: loaded.version,
        tagId: tagId!,
        entityId: d.id,
        action: d.add ? "add" : "remove",
        membershipChanged: !claims.claimedByOther(d.id, def.tag, source),
        explanation: d.explanation,
      });
    }
    for (const d of diff) {
      if (d.add) claims.add(d.id, def.tag, source);
      else claims.remove(d.id, def.tag, source);
    }
    runs.push({
      ruleId: def.id,
      version: loaded.version,
      evaluated: result.evaluated,
      matched: result.matched,
      added: result.added,
      removed: result.removed,
      details: runDetails(opts, result),
    });
    results.push(result);
  }

  const runIds = await writeEntityRuns(tx, {
    type,
    trigger: opts.trigger,
    asOf: opts.asOf,
    forced: opts.force ?? false,
    durationMs: Date.now() - started,
    runs,
    changes,
  });
  for (const r of results) r.runId = runIds.get(r.rule);
  return results;
}
