/**
 * Loads a rules directory: every *.json file but the generated schema,
 * validated one by one and then against each other (duplicate ids, one tag
 * assigned twice to the same target, cycles of tag tests).
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { findCycles, mustWaitFor, orderByDependencies } from "./cycles.ts";
import type { RuleProblem } from "./problems.ts";
import type { LoadedRule, RuleDefinition } from "./types.ts";
import { validateRuleObject, validateRuleText } from "./validate.ts";

export type { RuleProblem } from "./problems.ts";
export { mustWaitFor, orderByDependencies, validateRuleObject, validateRuleText };

/** The generated JSON Schema lives next to the rules and is not a rule. */
const RULE_SCHEMA_FILE = "rule.schema.json";

/** JSON with object keys sorted at every level: the same definition always has the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A rule's version: the first 16 hex digits of the SHA-256 of its canonical JSON. */
export function ruleVersion(def: RuleDefinition): string {
  return createHash("sha256").update(canonicalJson(def)).digest("hex").slice(0, 16);
}

/**
 * Validates every rule file in `dir`. A non-empty `problems` means the
 * directory is invalid and nothing should run; `rules` still holds each file
 * that validated on its own (the first by file name when an id repeats), so
 * listings can show them.
 */
export async function loadRulesDir(dir: string): Promise<{ rules: LoadedRule[]; problems: RuleProblem[] }> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && e.name.endsWith(".json") && e.name !== RULE_SCHEMA_FILE)
      .map((e) => e.name)
      .sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === "ENOENT"
        ? "the rules directory does not exist: create it, or point SIGNALTAG_RULES_DIR at the directory with the rule files"
        : code === "ENOTDIR"
          ? "this is not a directory: give the directory that holds the rule files"
          : `cannot read the rules directory (${code ?? String(err)})`;
    return { rules: [], problems: [{ file: dir, pointer: "", message }] };
  }

  const problems: RuleProblem[] = [];
  const rules: LoadedRule[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const text = await readFile(file, "utf8");
    const result = validateRuleText(text, file);
    problems.push(...result.problems);
    if (result.rule) rules.push({ definition: result.rule, version: ruleVersion(result.rule), file });
  }
  const { unique, problems: crossProblems } = checkAcrossFiles(rules);
  problems.push(...crossProblems);
  return { rules: unique, problems };
}

const showFile = (file: string) => JSON.stringify(path.basename(file));

/** Problems between rules that are each valid on their own. */
export function checkAcrossFiles(rules: readonly LoadedRule[]): {
  unique: LoadedRule[];
  problems: RuleProblem[];
} {
  const problems: RuleProblem[] = [];
  const byId = new Map<string, LoadedRule>();
  for (const rule of rules) {
    const first = byId.get(rule.definition.id);
    if (first) {
      problems.push({
        file: rule.file,
        pointer: "/id",
        message: `id ${JSON.stringify(rule.definition.id)} is already used by ${showFile(first.file)}: give each rule its own id`,
      });
      continue;
    }
    byId.set(rule.definition.id, rule);
  }
  const unique = [...byId.values()];

  const byTag = new Map<string, LoadedRule>();
  for (const rule of unique) {
    const { tag, target } = rule.definition;
    const key = `${target}\0${tag.toLowerCase()}`;
    const first = byTag.get(key);
    if (first) {
      problems.push({
        file: rule.file,
        pointer: "/tag",
        message: `rule ${JSON.stringify(first.definition.id)} (${showFile(first.file)}) already assigns tag ${JSON.stringify(first.definition.tag)} to ${target}s: a tag comes from one rule, so what it means is written in one place; combine the conditions with "any" in one rule, or use another tag`,
      });
      continue;
    }
    byTag.set(key, rule);
  }

  for (const cycle of findCycles(unique)) {
    const [first] = cycle.ids;
    const message =
      cycle.ids.length === 2
        ? `rule ${JSON.stringify(first)} tests its own tag ${JSON.stringify(cycle.rule.definition.tag)}, so its result would depend on its previous run: remove this test (use "exitConditions" to keep a tag until something else holds)`
        : `rules test each other's tags in a cycle (${cycle.ids.join(" -> ")}; each tests the tag of the next), so there is no order to run them in: remove one of these tag tests${cycle.members.length + 1 > cycle.ids.length ? ` (rules in this group: ${cycle.members.join(", ")})` : ""}`;
    problems.push({ file: cycle.rule.file, pointer: cycle.pointer, message });
  }
  return { unique, problems };
}

/** Shows a file relative to the working directory when it lies below it. */
function displayFile(file: string): string {
  if (!path.isAbsolute(file)) return file;
  const relative = path.relative(process.cwd(), file);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}

/** One line per problem: `file:pointer: message (did you mean "X"?)`; syntax errors show `file:line:column`. */
export function formatProblems(problems: RuleProblem[]): string {
  return problems
    .map((p) => {
      const where =
        p.pointer !== ""
          ? `${displayFile(p.file)}:${p.pointer}`
          : p.line !== undefined
            ? `${displayFile(p.file)}:${p.line}:${p.column ?? 1}`
            : displayFile(p.file);
      const hint = p.suggestion !== undefined ? ` (did you mean ${JSON.stringify(p.suggestion)}?)` : "";
      return `${where}: ${p.message}${hint}`;
    })
    .join("\n");
}
