import { type FactRequest, factKey } from "../facts/compute.ts";
import type { Condition, RuleDefinition, TopLevelCondition } from "./types.ts";

function walk(
  condition: Condition | TopLevelCondition,
  visit: (leaf: Condition & { fact: string }) => void,
): void {
  if ("all" in condition) for (const c of condition.all) walk(c, visit);
  else if ("any" in condition) for (const c of condition.any) walk(c, visit);
  else if ("not" in condition) walk(condition.not, visit);
  else if ("fact" in condition) visit(condition);
}

/** Every fact (with params) the rule's conditions, exit conditions and shared conditions read. */
export function collectFactRequests(rule: RuleDefinition): FactRequest[] {
  const found = new Map<string, FactRequest>();
  const visit = (leaf: { fact: string; params?: Record<string, unknown> }) => {
    const key = factKey(leaf.fact, leaf.params);
    if (!found.has(key)) found.set(key, { key, fact: leaf.fact, params: { ...(leaf.params ?? {}) } });
  };
  walk(rule.conditions, visit);
  if (rule.exitConditions) walk(rule.exitConditions, visit);
  for (const shared of Object.values(rule.sharedConditions ?? {})) walk(shared, visit);
  return [...found.values()];
}

/** Whether the rule reads the `tags` fact anywhere, so a change to an entity's tags can change its outcome. */
export function readsTags(rule: RuleDefinition): boolean {
  return collectFactRequests(rule).some((r) => r.fact === "tags");
}
