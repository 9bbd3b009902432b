/**
 * Checks a rule's condition trees against the fact catalog: shape, facts and
 * their targets, params, paths, operators and the type of each value. Every
 * problem is reported; nothing stops at the first one.
 */
import { type EntityType, type OperatorName, operatorNames } from "../facts/catalog.ts";
import { checkConditionSize } from "./condition-size.ts";
import type { JsonPath } from "./json-pointer.ts";
import { isObject, show, typeName } from "./json-values.ts";
import type { ProblemList } from "./problems.ts";
import { listOf, suggest } from "./suggest.ts";
import { checkFactName, checkParams, checkPath } from "./validate-fact.ts";
import { checkValue } from "./validate-value.ts";

export interface ConditionContext {
  /** Undefined when the rule's target is itself invalid: target checks are skipped then. */
  target: EntityType | undefined;
  /** Names defined in sharedConditions. */
  sharedNames: readonly string[];
  problems: ProblemList;
}

const kindKeys = ["all", "any", "not", "condition", "fact"] as const;
const nodeOptionKeys = ["name", "priority"];
const leafKeys = ["fact", "operator", "value", "params", "path", ...nodeOptionKeys];
const allKeys = [...new Set<string>([...kindKeys, ...leafKeys])];

/** Other spellings people use for json-rules-engine's operators. */
const operatorAliases: Readonly<Record<string, OperatorName>> = {
  "=": "equal",
  "==": "equal",
  "===": "equal",
  eq: "equal",
  equals: "equal",
  is: "equal",
  "!=": "notEqual",
  "!==": "notEqual",
  "<>": "notEqual",
  ne: "notEqual",
  neq: "notEqual",
  notequals: "notEqual",
  isnot: "notEqual",
  "<": "lessThan",
  lt: "lessThan",
  "<=": "lessThanInclusive",
  lte: "lessThanInclusive",
  le: "lessThanInclusive",
  lessthanorequal: "lessThanInclusive",
  lessthanorequalto: "lessThanInclusive",
  lessthanequal: "lessThanInclusive",
  ">": "greaterThan",
  gt: "greaterThan",
  ">=": "greaterThanInclusive",
  gte: "greaterThanInclusive",
  ge: "greaterThanInclusive",
  greaterthanorequal: "greaterThanInclusive",
  greaterthanorequalto: "greaterThanInclusive",
  greaterthanequal: "greaterThanInclusive",
  oneof: "in",
  nin: "notIn",
  notoneof: "notIn",
  includes: "contains",
  has: "contains",
  notcontains: "doesNotContain",
  doesnotinclude: "doesNotContain",
  excludes: "doesNotContain",
};

function checkKeys(
  node: Record<string, unknown>,
  allowed: readonly string[],
  path: JsonPath,
  ctx: ConditionContext,
  where: string,
): Set<string> {
  const intended = new Set<string>();
  for (const key of Object.keys(node)) {
    if (allowed.includes(key)) continue;
    const suggestion = suggest(key, allowed);
    if (suggestion !== undefined) intended.add(suggestion);
    ctx.problems.add(
      [...path, key],
      `unknown key ${JSON.stringify(key)} in ${where}: ${suggestion ? "fix the spelling" : `remove it (allowed: ${allowed.join(", ")})`}`,
      suggestion,
    );
  }
  return intended;
}

function checkNodeOptions(node: Record<string, unknown>, path: JsonPath, ctx: ConditionContext): void {
  if ("name" in node && typeof node.name !== "string") {
    ctx.problems.add([...path, "name"], `"name" must be a string, not ${typeName(node.name)}`);
  }
  if ("priority" in node && !(Number.isInteger(node.priority) && (node.priority as number) >= 1)) {
    ctx.problems.add(
      [...path, "priority"],
      `"priority" must be a whole number of at least 1, not ${show(node.priority)}`,
    );
  }
}

/** The top of `conditions`, `exitConditions` or a shared condition: all, any, not or a reference. */
export function checkTopLevelCondition(node: unknown, path: JsonPath, ctx: ConditionContext): void {
  if (!checkConditionSize(node, path, ctx.problems)) return;
  if (isObject(node) && "fact" in node && !kindKeys.some((k) => k !== "fact" && k in node)) {
    ctx.problems.add(
      path,
      'the top of a condition tree must be "all", "any", "not" or a "condition" reference: wrap this test as { "all": [ ... ] }',
    );
  }
  checkCondition(node, path, ctx);
}

function checkCondition(node: unknown, path: JsonPath, ctx: ConditionContext): void {
  if (!isObject(node)) {
    ctx.problems.add(
      path,
      `a condition must be an object, not ${typeName(node)}: use { "fact": ..., "operator": ..., "value": ... } or { "all": [ ... ] }`,
    );
    return;
  }
  const kinds = kindKeys.filter((k) => k in node);
  if (kinds.length > 1) {
    ctx.problems.add(
      path,
      `a condition has ${listOf(kinds, "and")}: use one per object (wrap several tests in { "all": [ ... ] })`,
    );
    return;
  }
  if (kinds.length === 0) {
    const intended = checkKeys(node, allKeys, path, ctx, "a condition");
    if (!kindKeys.some((k) => intended.has(k))) {
      ctx.problems.add(
        path,
        'this object is not a condition: give it a "fact" (with "operator" and "value"), or "all", "any", "not" or "condition"',
      );
    }
    return;
  }
  const kind = kinds[0];
  if (kind === "fact") {
    checkFactCondition(node, path, ctx);
    return;
  }
  checkKeys(node, [kind, ...nodeOptionKeys], path, ctx, `a "${kind}" condition`);
  checkNodeOptions(node, path, ctx);
  if (kind === "condition") {
    checkReference(node.condition, [...path, "condition"], ctx);
    return;
  }
  if (kind === "not") {
    checkCondition(node.not, [...path, "not"], ctx);
    return;
  }
  const list = node[kind];
  if (!Array.isArray(list)) {
    const hint = isObject(list) ? `: wrap the condition in [ ... ], or use "not" for a single condition` : "";
    ctx.problems.add(
      [...path, kind],
      `"${kind}" must be an array of conditions, not ${typeName(list)}${hint}`,
    );
    return;
  }
  if (list.length === 0) {
    ctx.problems.add(
      [...path, kind],
      `"${kind}" is empty, so it ${kind === "all" ? "matches every entity" : "never matches"}: add at least one condition`,
    );
  }
  for (const [i, child] of list.entries()) checkCondition(child, [...path, kind, i], ctx);
}

function checkReference(name: unknown, path: JsonPath, ctx: ConditionContext): void {
  if (typeof name !== "string") {
    ctx.problems.add(path, `"condition" must name an entry in "sharedConditions", not ${typeName(name)}`);
    return;
  }
  if (ctx.sharedNames.includes(name)) return;
  if (ctx.sharedNames.length === 0) {
    ctx.problems.add(
      path,
      `unknown shared condition ${JSON.stringify(name)}: define it under "sharedConditions": { ${JSON.stringify(name)}: { "all": [ ... ] } }`,
    );
    return;
  }
  ctx.problems.add(
    path,
    `unknown shared condition ${JSON.stringify(name)}: the shared conditions are ${listOf(ctx.sharedNames)}`,
    suggest(name, ctx.sharedNames),
  );
}

function checkFactCondition(node: Record<string, unknown>, path: JsonPath, ctx: ConditionContext): void {
  const intended = checkKeys(node, leafKeys, path, ctx, "a fact condition");
  checkNodeOptions(node, path, ctx);
  const spec = checkFactName(node.fact, [...path, "fact"], ctx);
  if (spec) {
    checkParams(node, spec, path, ctx);
    checkPath(node, spec, path, ctx);
  }
  let operator: OperatorName | undefined;
  if (!("operator" in node)) {
    if (!intended.has("operator")) {
      ctx.problems.add(path, `missing "operator": add one of ${listOf(operatorNames)}`);
    }
  } else if (typeof node.operator !== "string") {
    ctx.problems.add(
      [...path, "operator"],
      `"operator" must be a string such as "equal", not ${typeName(node.operator)}`,
    );
  } else if (!(operatorNames as string[]).includes(node.operator)) {
    const suggestion = suggest(node.operator, operatorNames, operatorAliases);
    ctx.problems.add(
      [...path, "operator"],
      `unknown operator ${JSON.stringify(node.operator)}: ${suggestion ? "json-rules-engine spells it differently" : `use one of ${listOf(operatorNames)}`}`,
      suggestion,
    );
  } else {
    operator = node.operator as OperatorName;
  }
  if (!("value" in node)) {
    if (!intended.has("value"))
      ctx.problems.add(path, `missing "value": add the value to compare the fact with`);
    return;
  }
  if (spec && operator) checkValue(node, spec, operator, path, ctx);
}
