/** Checks a fact condition's fact: its name, its target, its params and its path. */
import {
  entityTypes,
  type FactSpec,
  factCatalog,
  factNames,
  findFact,
  MAX_WINDOW_DAYS,
} from "../facts/catalog.ts";
import { parseJsonPath } from "./json-path.ts";
import type { JsonPath } from "./json-pointer.ts";
import { isObject, show, typeName } from "./json-values.ts";
import { listOf, suggest } from "./suggest.ts";
import type { ConditionContext } from "./validate-conditions.ts";

export function checkFactName(fact: unknown, path: JsonPath, ctx: ConditionContext): FactSpec | undefined {
  if (typeof fact !== "string") {
    ctx.problems.add(path, `"fact" must be the name of a fact, not ${typeName(fact)}`);
    return undefined;
  }
  const spec = findFact(fact);
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

export function checkParams(
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

export function checkPath(
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
