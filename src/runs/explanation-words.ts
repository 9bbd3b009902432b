import { findFact } from "../facts/catalog.ts";
import { show } from "../facts/words.ts";
import type { RuleDefinition } from "../rules/types.ts";
import { type ConditionWords, describeConditions, type ExplainedCondition } from "./evaluate.ts";
import type { Explanation } from "./explanation.ts";
import type { RunResult, SampleChange } from "./run-result.ts";

/**
 * Explanations in words, one phrasing for every surface (explain, dry-run
 * samples and diffs, history, profiles): each leaf condition as the fact
 * module phrases it, next to the exact fact and value.
 */

type Leaf = Extract<ExplainedCondition, { fact: string }>;

const isLeaf = (node: ExplainedCondition): node is Leaf => "fact" in node;

/** A leaf condition in words: "at least 20 active days in the last 30 days", "active on 22 of the last 30 days". */
export function leafWords(
  leaf: Pick<Leaf, "fact" | "operator" | "value" | "params" | "path" | "factValue">,
): ConditionWords {
  const fact = findFact(leaf.fact);
  const params = leaf.params ?? {};
  if (!fact) {
    return {
      condition: `${leaf.fact} ${leaf.operator} ${show(leaf.value)}`,
      actual: `${leaf.fact} is ${show(leaf.factValue)}`,
    };
  }
  return {
    condition: fact.words.condition(leaf.operator, leaf.value, params, leaf.path),
    actual: fact.words.value(leaf.factValue, params, leaf.path),
  };
}

/** One leaf as a sentence: "at least 20 active days in the last 30 days: yes, active on 22 of the last 30 days". */
export function leafSentence(leaf: Leaf): string {
  const w = leafWords(leaf);
  return `${w.condition}: ${leaf.result ? "yes" : "no"}, ${w.actual}`;
}

/** The tree with each leaf's words added (for JSON: every field stays, `words` is extra). */
export function withWords(node: ExplainedCondition): ExplainedCondition {
  if ("all" in node) return { ...node, all: node.all.map(withWords) };
  if ("any" in node) return { ...node, any: node.any.map(withWords) };
  if ("not" in node) return { ...node, not: withWords(node.not) };
  return { ...node, words: leafWords(node) };
}

/** An explanation with words on every leaf of its conditions and exit conditions, and the rule's name. */
export function explanationWithWords(e: Explanation, name?: string): Explanation {
  return {
    ...e,
    ...(name === undefined ? {} : { ruleName: name }),
    ...(e.conditions ? { conditions: withWords(e.conditions) } : {}),
    ...(e.exitConditions ? { exitConditions: withWords(e.exitConditions) } : {}),
  };
}

/**
 * A run's result as people are shown it: its samples' explanations with the
 * rule's name and words on every condition (the result itself keeps the
 * explanations as the run computed them).
 */
export function resultInWords(r: RunResult): RunResult {
  if (!r.samples) return r;
  const words = (c: SampleChange): SampleChange => ({
    ...c,
    explanation: explanationWithWords(c.explanation, r.name),
  });
  return { ...r, samples: { added: r.samples.added.map(words), removed: r.samples.removed.map(words) } };
}

/**
 * Lines for terminals: each leaf's exact line (`✓ activeDays{"days":30} = 22
 * (greaterThanInclusive 20)`) followed by the same condition in words.
 */
export function conditionLines(node: ExplainedCondition, indent = ""): string[] {
  if (isLeaf(node)) return [...describeConditions(node, indent), `${indent}    ${leafSentence(node)}`];
  const kind = "all" in node ? "all" : "any" in node ? "any" : "not";
  const mark = node.result === undefined ? "" : node.result ? " ✓" : " ✗";
  const children = "all" in node ? node.all : "any" in node ? node.any : [node.not];
  return [`${indent}${kind}${mark}`, ...children.flatMap((c) => conditionLines(c, `${indent}  `))];
}

/** The sentences of the leaves with the given outcome: why a rule claimed (true) or dropped (false) a tag. */
export function leafSentences(node: ExplainedCondition | undefined, result: boolean): string[] {
  if (!node) return [];
  if ("all" in node) return node.all.flatMap((c) => leafSentences(c, result));
  if ("any" in node) return node.any.flatMap((c) => leafSentences(c, result));
  // Under a not, a leaf that failed is what made the not hold.
  if ("not" in node) return leafSentences(node.not, !result);
  return isLeaf(node) && node.result === result ? [leafSentence(node)] : [];
}

/**
 * Why a rule claims or drops a tag on one entity, in words: the leaves that
 * decided it (the matching ones for a claim, the failing ones for a drop, the
 * exit conditions when they ended it), or the reason given.
 */
export function explanationSentences(e: Explanation, change: "add" | "remove"): string[] {
  if (e.reason) return [e.reason];
  if (change === "add") return leafSentences(e.conditions, true);
  if (e.exitMatched === true && e.exitConditions) return leafSentences(e.exitConditions, true);
  return leafSentences(e.conditions, false);
}

/** The rule's name from a definition, for headers: `power-users ("Power users")`. */
export function ruleLabel(def: Pick<RuleDefinition, "id" | "name">): string {
  return def.name && def.name !== def.id ? `${def.id} (${JSON.stringify(def.name)})` : def.id;
}
