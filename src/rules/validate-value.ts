/**
 * Checks that an operator applies to a fact and that the value has the type
 * the two need: numbers for comparisons, arrays for in/notIn, a single
 * element for contains, enum values for enumerated facts, null only where a
 * fact can be null.
 */
import type { FactSpec, OperatorName } from "../facts/catalog.ts";
import { operators } from "../facts/catalog.ts";
import type { JsonPath } from "./json-pointer.ts";
import { show, typeName } from "./json-values.ts";
import { listOf, suggest } from "./suggest.ts";
import type { ConditionContext } from "./validate-conditions.ts";

type ValueKind = "number" | "enum" | "string" | "stringArray" | "scalar";

function valueKind(node: Record<string, unknown>, spec: FactSpec): ValueKind | undefined {
  if (spec.valueType === "object") return typeof node.path === "string" ? "scalar" : undefined;
  if (spec.valueType === "string") return spec.enumValues ? "enum" : "string";
  return spec.valueType;
}

export function checkValue(
  node: Record<string, unknown>,
  spec: FactSpec,
  operator: OperatorName,
  path: JsonPath,
  ctx: ConditionContext,
): void {
  const kind = valueKind(node, spec);
  if (kind === undefined) return; // an object fact without a path: already reported
  const value = node.value;
  const valuePath = [...path, "value"];
  const fact = JSON.stringify(spec.name);
  const expects = operators[operator];
  const describeFact =
    kind === "stringArray"
      ? `${fact} is a list`
      : kind === "enum"
        ? `${fact} is one of ${listOf(spec.enumValues!)}`
        : kind === "string"
          ? `${fact} is a string`
          : `${fact} is a number`;

  if (expects === "number") {
    if (kind !== "number" && kind !== "scalar") {
      const instead = kind === "stringArray" ? `use "contains"` : `use "equal" or "in"`;
      ctx.problems.add(
        [...path, "operator"],
        `"${operator}" compares numbers, but ${describeFact}: ${instead}`,
      );
      return;
    }
    checkNumber(value, valuePath, `"${operator}" needs a number value`, ctx);
    return;
  }
  if (expects === "array") {
    if (kind === "stringArray") {
      ctx.problems.add(
        [...path, "operator"],
        `"${operator}" tests a single value, but ${describeFact}: use "${operator === "in" ? "contains" : "doesNotContain"}" to test for one element`,
      );
      return;
    }
    if (!Array.isArray(value)) {
      ctx.problems.add(
        valuePath,
        `"${operator}" needs an array value such as [${show(value)}], not ${typeName(value)}`,
      );
      return;
    }
    if (value.length === 0) {
      ctx.problems.add(
        valuePath,
        `an empty list ${operator === "in" ? "never matches" : "matches everything"}: add the values to test for`,
      );
    }
    value.forEach((element, i) => {
      if (element === null) {
        ctx.problems.add(
          [...valuePath, i],
          `null in a list never matches (a null fact fails "${operator}"): test it separately with "equal" null`,
        );
        return;
      }
      checkScalar(element, kind, spec, [...valuePath, i], ctx, operator);
    });
    return;
  }
  if (expects === "scalar") {
    if (kind !== "stringArray" && kind !== "scalar") {
      ctx.problems.add(
        [...path, "operator"],
        `"${operator}" applies to list facts (modulesUsed, tags) and to paths into object facts, but ${describeFact}: use "equal" or "in"`,
      );
      return;
    }
    if (kind === "stringArray") {
      if (typeof value !== "string" || value.length === 0) {
        ctx.problems.add(
          valuePath,
          `"${operator}" on ${fact} needs one non-empty string value, not ${show(value)}`,
        );
      }
      return;
    }
    if (value === null || typeof value === "object") {
      ctx.problems.add(
        valuePath,
        `"${operator}" needs a single string, number or boolean value, not ${typeName(value)}`,
      );
    }
    return;
  }
  // equal / notEqual
  if (kind === "stringArray") {
    ctx.problems.add(
      [...path, "operator"],
      `"${operator}" compares single values, but ${describeFact}: use "${operator === "equal" ? "contains" : "doesNotContain"}"`,
    );
    return;
  }
  if (value === null) {
    if (kind !== "scalar" && !spec.nullable) {
      ctx.problems.add(
        valuePath,
        `${fact} is never null, so this test ${operator === "equal" ? "never matches" : "always matches"}: compare with a value instead`,
      );
    }
    return;
  }
  checkScalar(value, kind, spec, valuePath, ctx, operator);
}

function checkNumber(value: unknown, path: JsonPath, what: string, ctx: ConditionContext): void {
  if (typeof value === "number" && Number.isFinite(value)) return;
  const numeric =
    typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))
      ? value.trim()
      : undefined;
  ctx.problems.add(
    path,
    `${what}, not ${typeName(value)}${numeric ? `: write it without quotes` : ""}`,
    numeric,
  );
}

function checkScalar(
  value: unknown,
  kind: ValueKind,
  spec: FactSpec,
  path: JsonPath,
  ctx: ConditionContext,
  operator: OperatorName,
): void {
  const fact = JSON.stringify(spec.name);
  if (kind === "number") {
    checkNumber(value, path, `${fact} is a number, so "${operator}" needs a number`, ctx);
  } else if (kind === "enum") {
    const allowed = spec.enumValues!;
    if (typeof value !== "string" || !allowed.includes(value)) {
      const nullable = spec.nullable && operator !== "in" && operator !== "notIn";
      ctx.problems.add(
        path,
        `${show(value)} is not a value of ${fact}: use ${nullable ? `${allowed.map((v) => JSON.stringify(v)).join(", ")} or null` : listOf(allowed)}`,
        typeof value === "string" ? suggest(value, allowed) : undefined,
      );
    }
  } else if (kind === "string") {
    if (typeof value !== "string")
      ctx.problems.add(path, `${fact} is a string, so compare it with a string, not ${typeName(value)}`);
  } else if (value === null || typeof value === "object") {
    ctx.problems.add(
      path,
      `"${operator}" compares single values; ${typeName(value)} never matches: use a string, number, boolean${operator === "equal" || operator === "notEqual" ? " or null" : ""}`,
    );
  }
}
