import type { RuleDefinition } from "../rules/types.ts";
import { leafWords } from "./explanation-words.ts";

/**
 * A rule's conditions as indented lines a person reads ("all of:", "at least
 * 20 active days in the last 30 days"), phrased by the same fact modules as
 * explanations. Named condition references are shown by name.
 */
export function ruleInWords(def: Pick<RuleDefinition, "conditions" | "exitConditions">): {
  conditions: string[];
  exitConditions?: string[];
} {
  const lines = (node: unknown, indent: string): string[] => {
    if (!node || typeof node !== "object") return [];
    const n = node as Record<string, unknown>;
    for (const kind of ["all", "any"] as const) {
      if (Array.isArray(n[kind])) {
        const head = `${indent}${kind === "all" ? "all of:" : "any of:"}`;
        return [head, ...(n[kind] as unknown[]).flatMap((c) => lines(c, `${indent}  `))];
      }
    }
    if ("not" in n) return [`${indent}not:`, ...lines(n.not, `${indent}  `)];
    if (typeof n.condition === "string")
      return [`${indent}the condition named ${JSON.stringify(n.condition)}`];
    if (typeof n.fact === "string") {
      const words = leafWords({
        fact: n.fact,
        operator: String(n.operator),
        value: n.value,
        params: n.params as Record<string, unknown> | undefined,
        path: n.path as string | undefined,
        factValue: undefined,
      });
      return [`${indent}${words.condition}`];
    }
    return [];
  };
  return {
    conditions: lines(def.conditions, ""),
    ...(def.exitConditions ? { exitConditions: lines(def.exitConditions, "") } : {}),
  };
}
