import type {
  Condition,
  FactCondition,
  LoadedRule,
  RuleDefinition,
  TopLevelCondition,
} from "../rules/types.ts";
import type { Evaluation, ExplainedCondition } from "./evaluate.ts";

/** Why a rule claimed or dropped a tag, as stored with the tag event (or read back whole from a compact one). */
export interface Explanation {
  rule: string;
  /** The rule's name, added where explanations are shown (never stored). */
  ruleName?: string;
  version: string;
  asOf: string;
  matched?: boolean;
  exitMatched?: boolean;
  conditions?: Evaluation["conditions"];
  exitConditions?: Evaluation["exitConditions"];
  reason?: string;
}

/** Why a rule claims or drops a tag on one entity, from its evaluation there. */
export function ruleExplanation(loaded: LoadedRule, asOf: string, evaluation: Evaluation): Explanation {
  return {
    rule: loaded.definition.id,
    version: loaded.version,
    asOf,
    matched: evaluation.matched,
    ...(evaluation.exitMatched === undefined ? {} : { exitMatched: evaluation.exitMatched }),
    conditions: evaluation.conditions,
    ...(evaluation.exitConditions ? { exitConditions: evaluation.exitConditions } : {}),
  };
}

/** Why a rule drops its claim on an entity that did not exist at the as-of instant. */
export function absentExplanation(loaded: LoadedRule, asOf: string): Explanation {
  return {
    rule: loaded.definition.id,
    version: loaded.version,
    asOf,
    reason: "created after the as-of instant",
  };
}

/** A stored explanation as a person reads it: a compact one expanded against the rule that wrote it. */
export function readableExplanation(loaded: LoadedRule, asOf: string, stored: unknown): Explanation {
  if (!isCompactExplanation(stored)) return stored as Explanation;
  const header = { rule: loaded.definition.id, version: loaded.version, asOf };
  return (
    (expandExplanation(loaded.definition, stored, header) as Explanation | undefined) ??
    (stored as unknown as Explanation)
  );
}

/**
 * The explanation a compiled run stores with each tag event: what varies
 * from entity to entity, and nothing the rule version already says. `facts`
 * and `results` hold each leaf condition's fact value and outcome, leaves in
 * the order expandExplanation walks them (conditions, then exitConditions,
 * shared conditions where they are referenced). A first run over a million
 * entities writes as many of these, so each is a fraction of the size of
 * the whole explanation, and built in a fraction of the time.
 */
export interface CompactExplanation {
  matched: boolean;
  exitMatched?: boolean;
  suppressed?: boolean;
  facts: unknown[];
  results: boolean[];
}

/** What every expanded explanation starts with: the run's rule, version and as-of instant. */
export interface ExplanationHeader {
  rule: string;
  version: string;
  asOf: string;
}

export function isCompactExplanation(x: unknown): x is CompactExplanation {
  if (typeof x !== "object" || x === null) return false;
  const c = x as Partial<CompactExplanation>;
  return Array.isArray(c.facts) && Array.isArray(c.results) && typeof c.matched === "boolean";
}

/**
 * The whole explanation of a compact one, as the rule version that wrote it
 * reads: every condition with its fact, operator, value, params and path, the
 * stored fact value and outcome of each leaf, and the outcome of each
 * all/any/not computed from them. Undefined when the definition does not have
 * as many leaves as were stored (not the version that wrote it).
 */
export function expandExplanation(
  def: RuleDefinition,
  stored: CompactExplanation,
  header: ExplanationHeader,
): Record<string, unknown> | undefined {
  let next = 0;
  let fits = true;
  const walk = (node: Condition | TopLevelCondition, depth: number): ExplainedCondition => {
    if (depth > 64) {
      fits = false;
      return { all: [], result: false };
    }
    if ("all" in node) {
      const all = node.all.map((c) => walk(c, depth + 1));
      return { all, result: all.every((c) => c.result === true) };
    }
    if ("any" in node) {
      const any = node.any.map((c) => walk(c, depth + 1));
      return { any, result: any.some((c) => c.result === true) };
    }
    if ("not" in node) {
      const inner = walk(node.not, depth + 1);
      return { not: inner, result: inner.result !== true };
    }
    if ("condition" in node) {
      const target = def.sharedConditions?.[node.condition];
      if (!target) {
        fits = false;
        return { all: [], result: false };
      }
      return walk(target, depth + 1);
    }
    const leaf = node as FactCondition;
    const i = next++;
    if (i >= stored.facts.length || i >= stored.results.length) fits = false;
    return {
      fact: leaf.fact,
      operator: leaf.operator,
      value: leaf.value ?? null,
      ...(leaf.params && Object.keys(leaf.params).length > 0 ? { params: leaf.params } : {}),
      ...(leaf.path ? { path: leaf.path } : {}),
      factValue: stored.facts[i] ?? null,
      result: stored.results[i] === true,
    };
  };
  const conditions = walk(def.conditions, 0);
  const exitConditions = def.exitConditions ? walk(def.exitConditions, 0) : undefined;
  if (!fits || next !== stored.facts.length || next !== stored.results.length) return undefined;
  return {
    ...header,
    matched: stored.matched,
    conditions,
    ...(exitConditions ? { exitMatched: stored.exitMatched === true, exitConditions } : {}),
    ...(stored.suppressed === undefined ? {} : { suppressed: stored.suppressed }),
  };
}
