/**
 * Validates one rule document and reports every problem in it, each with a
 * JSON pointer (and, for file text, a line and column).
 */
import type { z } from "zod";
import { type EntityType, entityTypes } from "../facts/catalog.ts";
import { tagNameProblem } from "../limits.ts";
import { type Position, parseJsonWithPositions } from "./json-source.ts";
import { isObject } from "./json-values.ts";
import { ProblemList, type RuleProblem } from "./problems.ts";
import { ruleMetadataSchema, scheduleKeys, topLevelKeys } from "./schema.ts";
import { suggest } from "./suggest.ts";
import type { RuleDefinition, TopLevelCondition } from "./types.ts";
import { type ConditionContext, checkTopLevelCondition } from "./validate-conditions.ts";

/** "Power Users!" -> "power-users": what an id written as a name probably meant. */
function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "");
}

let zones: string[] | undefined;
function timeZoneNames(): string[] {
  zones ??= ["UTC", ...Intl.supportedValuesOf("timeZone")];
  return zones;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function reportMetadataIssues(
  json: Record<string, unknown>,
  issues: z.core.$ZodIssue[],
  problems: ProblemList,
): void {
  const seen = new Set<string>();
  for (const issue of issues) {
    const path = issue.path.filter((k): k is string | number => typeof k !== "symbol");
    // One problem per value: the first check that fails is the one to fix first.
    const at = path.join(".");
    if (issue.code !== "unrecognized_keys" && seen.has(at)) continue;
    seen.add(at);
    if (issue.code === "unrecognized_keys") {
      const allowed = path.length === 0 ? topLevelKeys : path[0] === "schedule" ? scheduleKeys : [];
      const where = path.length === 0 ? "a rule file" : `"${path.join(".")}"`;
      for (const key of issue.keys) {
        const suggestion = suggest(key, allowed);
        problems.add(
          [...path, key],
          `unknown key ${JSON.stringify(key)} in ${where}: ${suggestion ? "fix the spelling" : `remove it (allowed: ${allowed.join(", ")})`}`,
          suggestion,
        );
      }
      continue;
    }
    const input = valueAt(json, path);
    let suggestion: string | undefined;
    if (typeof input === "string") {
      if (at === "target") suggestion = suggest(input, entityTypes);
      else if (at === "schedule.timezone") suggestion = suggest(input, timeZoneNames());
      else if (at === "id" && issue.code === "invalid_format") suggestion = slugify(input) || undefined;
      else if (at === "tag" && issue.code === "invalid_format") suggestion = input.trim() || undefined;
    }
    problems.add(path, issue.message, suggestion);
  }
}

/** Shared conditions that reach themselves through `{ "condition": name }` references. */
function checkSharedReferenceCycles(shared: Record<string, unknown>, problems: ProblemList): void {
  const references = (node: unknown, out: Set<string>): Set<string> => {
    if (Array.isArray(node)) {
      for (const child of node) references(child, out);
    } else if (isObject(node)) {
      if (typeof node.condition === "string") out.add(node.condition);
      for (const key of ["all", "any", "not"]) if (key in node) references(node[key], out);
    }
    return out;
  };
  const edges = new Map(
    Object.entries(shared).map(([name, node]) => [name, [...references(node, new Set())]]),
  );
  const reported = new Set<string>();
  for (const start of edges.keys()) {
    // Depth-first search for a path back to `start`; each cycle is reported once, at its first member.
    const stack: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string): string[] | undefined => {
      for (const next of edges.get(name) ?? []) {
        if (next === start) return [...stack, name, start];
        if (seen.has(next) || !edges.has(next)) continue;
        seen.add(next);
        stack.push(name);
        const found = visit(next);
        stack.pop();
        if (found) return found;
      }
      return undefined;
    };
    const cycle = visit(start);
    if (!cycle) continue;
    const key = [...new Set(cycle)].sort().join("\0");
    if (reported.has(key)) continue;
    reported.add(key);
    problems.add(
      ["sharedConditions", start],
      `shared condition ${JSON.stringify(start)} refers to itself (${cycle.join(" -> ")}): break the cycle`,
    );
  }
}

function buildDefinition(
  json: Record<string, unknown>,
  meta: z.output<typeof ruleMetadataSchema>,
): RuleDefinition {
  const definition: RuleDefinition = {
    id: meta.id,
    name: meta.name,
    ...(meta.description !== undefined && { description: meta.description }),
    // NFC, as every other tag name is stored: "cafe\u0301" and "café" are one tag.
    tag: meta.tag.normalize("NFC"),
    target: meta.target as EntityType,
    enabled: meta.enabled,
    ...(meta.schedule !== undefined && { schedule: meta.schedule }),
    conditions: json.conditions as TopLevelCondition,
    ...(json.exitConditions !== undefined && { exitConditions: json.exitConditions as TopLevelCondition }),
    ...(json.sharedConditions !== undefined && {
      sharedConditions: json.sharedConditions as Record<string, TopLevelCondition>,
    }),
    ...(meta.removalGuard !== undefined && { removalGuard: meta.removalGuard }),
  };
  // A deep copy: callers may keep the definition while the document is reused.
  return structuredClone(definition);
}

/** Validates a parsed rule document (a file's contents, or a rule uploaded through the API). */
export function validateRuleObject(
  json: unknown,
  file: string,
): { rule?: RuleDefinition; problems: RuleProblem[] } {
  const problems = new ProblemList(file);
  if (!isObject(json)) {
    problems.add(
      [],
      `a rule file holds one JSON object with "id", "name", "tag", "target" and "conditions", not ${Array.isArray(json) ? "an array" : json === null ? "null" : `a ${typeof json}`}`,
    );
    return { problems: problems.problems };
  }
  const meta = ruleMetadataSchema.safeParse(json);
  if (!meta.success) reportMetadataIssues(json, meta.error.issues, problems);
  // The rule's tag is created and claimed like any other: the same name check
  // as a tag typed in the API or a tags file (the schema only checks its shape).
  const tagShapeOk = meta.success || !meta.error.issues.some((issue) => issue.path[0] === "tag");
  if (tagShapeOk && typeof json.tag === "string") {
    const problem = tagNameProblem(json.tag.normalize("NFC"));
    if (problem) problems.add(["tag"], `"tag" ${problem}`);
  }

  const target = entityTypes.includes(json.target as EntityType) ? (json.target as EntityType) : undefined;
  const shared = json.sharedConditions;
  const ctx: ConditionContext = {
    target,
    sharedNames: isObject(shared) ? Object.keys(shared) : [],
    problems,
  };

  if (!("conditions" in json)) {
    problems.add(
      [],
      'missing "conditions": add e.g. { "all": [ { "fact": ..., "operator": ..., "value": ... } ] }',
    );
  } else {
    checkTopLevelCondition(json.conditions, ["conditions"], ctx);
  }
  if ("exitConditions" in json) checkTopLevelCondition(json.exitConditions, ["exitConditions"], ctx);
  if ("sharedConditions" in json) {
    if (!isObject(shared)) {
      problems.add(
        ["sharedConditions"],
        '"sharedConditions" must be an object of named conditions, e.g. { "active": { "all": [ ... ] } }',
      );
    } else {
      for (const [name, node] of Object.entries(shared)) {
        checkTopLevelCondition(node, ["sharedConditions", name], ctx);
      }
      checkSharedReferenceCycles(shared, problems);
    }
  }
  if (problems.problems.length > 0 || !meta.success) return { problems: problems.problems };
  return { rule: buildDefinition(json, meta.data), problems: [] };
}

function nearestPosition(positions: ReadonlyMap<string, Position>, pointer: string): Position | undefined {
  for (let p = pointer; ; p = p.slice(0, p.lastIndexOf("/"))) {
    const found = positions.get(p);
    if (found) return found;
    if (p === "") return undefined;
  }
}

/** Validates a rule file's text: syntax errors with line and column, then everything validateRuleObject checks. */
export function validateRuleText(
  text: string,
  file: string,
): { rule?: RuleDefinition; problems: RuleProblem[] } {
  const parsed = parseJsonWithPositions(text);
  if (!parsed.ok) {
    return {
      problems: [
        {
          file,
          pointer: parsed.pointer ?? "",
          message: `invalid JSON: ${parsed.message}`,
          line: parsed.position.line,
          column: parsed.position.column,
        },
      ],
    };
  }
  const duplicates: RuleProblem[] = parsed.duplicateKeys.map(({ pointer, position }) => {
    const key = JSON.stringify(
      pointer
        .slice(pointer.lastIndexOf("/") + 1)
        .replace(/~1/g, "/")
        .replace(/~0/g, "~"),
    );
    return {
      file,
      pointer,
      message: `key ${key} appears more than once in the same object: keep one (only the last one would count)`,
      ...position,
    };
  });
  const result = validateRuleObject(parsed.value, file);
  for (const problem of result.problems) {
    const position = nearestPosition(parsed.positions, problem.pointer);
    if (position) Object.assign(problem, position);
  }
  const problems = [...duplicates, ...result.problems];
  return problems.length > 0 ? { problems } : result;
}
