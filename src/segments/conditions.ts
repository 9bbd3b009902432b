import { InputError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { ProblemList } from "../rules/problems.ts";
import type { LoadedRule, TopLevelCondition } from "../rules/types.ts";
import { checkTopLevelCondition } from "../rules/validate-conditions.ts";

/**
 * Checks a segment's conditions with the rule validator (the same facts,
 * operators, params and value types as a rule file's `conditions`). Every
 * problem is reported with its JSON pointer under `field`.
 */
export function validateSegmentConditions(
  conditions: unknown,
  type: EntityType,
  field = "conditions",
): TopLevelCondition {
  const problems = new ProblemList(field);
  checkTopLevelCondition(conditions, [field], { target: type, sharedNames: [], problems });
  if (problems.problems.length > 0) {
    const lines = problems.problems.map(
      (p) =>
        `  ${p.pointer}: ${p.message}${p.suggestion ? ` (did you mean ${JSON.stringify(p.suggestion)}?)` : ""}`,
    );
    throw new InputError(
      `${field} ${problems.problems.length === 1 ? "has a problem" : `has ${problems.problems.length} problems`}:\n${lines.join("\n")}`,
      {
        code: "invalid_conditions",
        details: {
          field,
          problems: problems.problems.map((p) => ({
            pointer: p.pointer,
            message: p.message,
            ...(p.suggestion ? { suggestion: p.suggestion } : {}),
          })),
        },
      },
    );
  }
  return structuredClone(conditions) as TopLevelCondition;
}

/** A segment's conditions as a rule, so the rule evaluator serves segments too. */
export function conditionsAsRule(type: EntityType, conditions: TopLevelCondition): LoadedRule {
  return {
    definition: {
      id: "segment",
      name: "segment",
      tag: "segment",
      target: type,
      enabled: true,
      conditions,
    },
    version: "segment",
    file: "segment",
  };
}
