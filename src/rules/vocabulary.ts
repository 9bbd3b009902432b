import type { ActivityVocabulary } from "../facts/activities.ts";
import { toPointer } from "./json-pointer.ts";
import type { RuleProblem } from "./problems.ts";
import { nearest } from "./suggest.ts";
import type { Condition, FactCondition, LoadedRule, TopLevelCondition } from "./types.ts";

/** The params that name something in the data, and where the data's names for it are. */
const NAMED_PARAMS = { activity: "activities", module: "modules" } as const;

/**
 * Warnings (not problems: the rule is valid, and the data may yet bring the
 * name) for every `activity` or `module` param a rule names that no event
 * carries, with the nearest names the data does carry.
 */
export function unseenNameWarnings(rules: readonly LoadedRule[], seen: ActivityVocabulary): RuleProblem[] {
  const names = {
    activities: seen.activities.map((a) => a.name),
    modules: seen.modules.map((m) => m.name),
  };
  const known = { activities: new Set(names.activities), modules: new Set(names.modules) };
  const warnings: RuleProblem[] = [];
  for (const rule of rules) {
    const def = rule.definition;
    const visit = (leaf: FactCondition, path: (string | number)[]) => {
      for (const [param, kind] of Object.entries(NAMED_PARAMS) as [
        keyof typeof NAMED_PARAMS,
        "activities" | "modules",
      ][]) {
        const value = leaf.params?.[param];
        if (typeof value !== "string" || known[kind].has(value)) continue;
        const near = nearest(value, names[kind]);
        const hint = near.length
          ? `; nearest seen: ${near.map((n) => JSON.stringify(n)).join(", ")}`
          : "; no events have been imported yet";
        warnings.push({
          file: rule.file,
          pointer: toPointer([...path, "params", param]),
          message: `${param} ${JSON.stringify(value)} was never seen in the data, so this condition matches no event${hint} (\`signaltag activities\` lists them all)`,
        });
      }
    };
    walk(def.conditions, ["conditions"], visit);
    if (def.exitConditions) walk(def.exitConditions, ["exitConditions"], visit);
    for (const [name, shared] of Object.entries(def.sharedConditions ?? {})) {
      walk(shared, ["sharedConditions", name], visit);
    }
  }
  return warnings;
}

function walk(
  condition: Condition | TopLevelCondition,
  path: (string | number)[],
  visit: (leaf: FactCondition, path: (string | number)[]) => void,
): void {
  if ("all" in condition) for (const [i, c] of condition.all.entries()) walk(c, [...path, "all", i], visit);
  else if ("any" in condition)
    for (const [i, c] of condition.any.entries()) walk(c, [...path, "any", i], visit);
  else if ("not" in condition) walk(condition.not, [...path, "not"], visit);
  else if ("fact" in condition) visit(condition, path);
}
