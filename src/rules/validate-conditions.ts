/**
 * Checks a rule's condition trees against the fact catalog: shape, facts and
 * their targets, params, paths, operators and the type of each value. Every
 * problem is reported; nothing stops at the first one.
 */
import {
  type EntityType,
  entityTypes,
  type FactSpec,
  factCatalog,
  factNames,
  MAX_WINDOW_DAYS,
  type OperatorName,
  operatorNames,
  operators,
} from "./catalog.ts";
import { parseJsonPath } from "./json-path.ts";
import type { JsonPath } from "./json-pointer.ts";
import type { ProblemList } from "./problems.ts";
import { listOf, suggest } from "./suggest.ts";

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
export const operatorAliases: Readonly<Record<string, OperatorName>> = {
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

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const typeName = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`;

const show = (v: unknown): string => {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/** Reports keys of `node` outside `allowed`, each with a suggestion; returns the suggested (intended) keys. */
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
  if (isObject(node) && "fact" in node && !kindKeys.some((k) => k !== "fact" && k in node)) {
    ctx.problems.add(
      path,
      'the top of a condition tree must be "all", "any", "not" or a "condition" reference: wrap this test as { "all": [ ... ] }',
    );
  }
  checkCondition(node, path, ctx);
}

export function checkCondition(node: unknown, path: JsonPath, ctx: ConditionContext): void {
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

function checkFactName(fact: unknown, path: JsonPath, ctx: ConditionContext): FactSpec | undefined {
  if (typeof fact !== "string") {
    ctx.problems.add(path, `"fact" must be the name of a fact, not ${typeName(fact)}`);
    return undefined;
  }
  const spec = Object.hasOwn(factCatalog, fact) ? factCatalog[fact] : undefined;
  const forTarget = ctx.target
    ? factNames.filter((n) => factCatalog[n].targets.includes(ctx.target!))
    : factNames;
  if (!spec) {
    const suggestion = suggest(fact, forTarget) ?? suggest(fact, factNames);
    const facts = ctx.target ? `the facts for ${ctx.target} rules are` : "the facts are";
    const hint = suggestion ? "fix the spelling" : `${facts} ${listOf(forTarget)}`;
    ctx.problems.add(path, `unknown fact ${JSON.stringify(fact)}: ${hint}`, suggestion);
    return undefined;
  }
  if (ctx.target && !spec.targets.includes(ctx.target)) {
    const other = entityTypes.find((t) => t !== ctx.target)!;
    const hint =
      ctx.target === "user" && spec.targets.includes("account")
        ? `: test it in an account rule, or test the user's account through the "account" fact and a path`
        : `: use it in ${other === "account" ? "an account" : "a user"} rule`;
    ctx.problems.add(
      path,
      `fact ${JSON.stringify(fact)} is not available for ${ctx.target} rules (only for ${spec.targets.join(" and ")} rules)${hint}`,
      suggest(fact, forTarget),
    );
  }
  return spec;
}

function checkParams(
  node: Record<string, unknown>,
  spec: FactSpec,
  path: JsonPath,
  ctx: ConditionContext,
): void {
  const paramNames = Object.keys(spec.params);
  const required = paramNames.filter((p) => spec.params[p].required);
  const example = required.map((p) => `"${p}": ${spec.params[p].type === "days" ? 30 : '"..."'}`).join(", ");
  if (!("params" in node)) {
    if (required.length > 0) {
      ctx.problems.add(
        path,
        `missing "params": fact ${JSON.stringify(spec.name)} needs ${listOf(required, "and")}, e.g. "params": { ${example} }`,
      );
    }
    return;
  }
  const params = node.params;
  const paramsPath = [...path, "params"];
  if (!isObject(params)) {
    ctx.problems.add(
      paramsPath,
      `"params" must be an object such as { "days": 30 }, not ${typeName(params)}`,
    );
    return;
  }
  if (paramNames.length === 0) {
    if (Object.keys(params).length > 0) {
      ctx.problems.add(paramsPath, `fact ${JSON.stringify(spec.name)} takes no params: remove "params"`);
    }
    return;
  }
  for (const [name, value] of Object.entries(params)) {
    const p = Object.hasOwn(spec.params, name) ? spec.params[name] : undefined;
    if (!p) {
      ctx.problems.add(
        [...paramsPath, name],
        `unknown param ${JSON.stringify(name)} for fact ${JSON.stringify(spec.name)}: its params are ${listOf(paramNames)}`,
        suggest(name, paramNames),
      );
      continue;
    }
    if (p.type === "days") {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_WINDOW_DAYS) {
        const numeric = typeof value === "string" && /^\d+$/.test(value.trim()) ? value.trim() : undefined;
        ctx.problems.add(
          [...paramsPath, name],
          `"${name}" must be a whole number of days from 1 to ${MAX_WINDOW_DAYS}, not ${show(value)}`,
          numeric,
        );
      }
    } else if (typeof value !== "string" || value.length === 0) {
      ctx.problems.add(
        [...paramsPath, name],
        `"${name}" must be a non-empty string (${p.description}), not ${show(value)}`,
      );
    }
  }
  for (const name of required) {
    if (!(name in params) && !Object.keys(params).some((k) => suggest(k, paramNames) === name)) {
      ctx.problems.add(
        paramsPath,
        `missing param ${JSON.stringify(name)} for fact ${JSON.stringify(spec.name)}: add it, e.g. { ${example} }`,
      );
    }
  }
}

function checkPath(
  node: Record<string, unknown>,
  spec: FactSpec,
  path: JsonPath,
  ctx: ConditionContext,
): void {
  if (!spec.usesPath) {
    if ("path" in node) {
      ctx.problems.add(
        [...path, "path"],
        `"path" applies only to object facts (attributes, account); ${JSON.stringify(spec.name)} is not one: remove "path"`,
      );
    }
    return;
  }
  if (!("path" in node)) {
    ctx.problems.add(
      path,
      `fact ${JSON.stringify(spec.name)} is an object: add a "path" to the field to test, e.g. "path": "$.plan"`,
    );
    return;
  }
  const p = node.path;
  if (typeof p !== "string" || !p.startsWith("$")) {
    const fixed = typeof p === "string" && /^[A-Za-z_]/.test(p) ? `$.${p}` : undefined;
    ctx.problems.add(
      [...path, "path"],
      `"path" must be a JSONPath starting with "$", such as "$.plan", not ${show(p)}`,
      fixed,
    );
    return;
  }
  const segments = parseJsonPath(p);
  if (segments === undefined || segments.length === 0) {
    ctx.problems.add(
      [...path, "path"],
      `"path" ${JSON.stringify(p)} must select one field, e.g. "$.plan", "$.limits.seats" or "$['billing plan']" (no wildcards or filters)`,
    );
  }
}

type ValueKind = "number" | "enum" | "string" | "stringArray" | "scalar";

function valueKind(node: Record<string, unknown>, spec: FactSpec): ValueKind | undefined {
  if (spec.valueType === "object") return typeof node.path === "string" ? "scalar" : undefined;
  if (spec.valueType === "string") return spec.enumValues ? "enum" : "string";
  return spec.valueType;
}

function checkValue(
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
