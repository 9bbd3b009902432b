import { Engine, type TopLevelCondition as JreTopLevel, type RuleProperties } from "json-rules-engine";
import { factCatalog } from "../facts/catalog.ts";
import { type FactRequest, factKey } from "../facts/compute.ts";
import { collectFactRequests } from "../rules/fact-requests.ts";
import type { LoadedRule, TopLevelCondition } from "../rules/types.ts";

/** A condition tree as evaluated: leaves carry the fact value and the result. */
export type ExplainedCondition =
  | { all: ExplainedCondition[]; result?: boolean }
  | { any: ExplainedCondition[]; result?: boolean }
  | { not: ExplainedCondition; result?: boolean }
  | {
      fact: string;
      params?: Record<string, unknown>;
      path?: string;
      operator: string;
      value: unknown;
      factValue: unknown;
      result: boolean;
      /** The condition and the value in words (added for people, never stored). */
      words?: ConditionWords;
    };

/** A leaf condition in words: what the rule asks, and what the entity has. */
export interface ConditionWords {
  /** "at least 20 active days in the last 30 days" */
  condition: string;
  /** "active on 22 of the last 30 days" */
  actual: string;
}

export interface Evaluation {
  /** The rule's conditions hold. */
  matched: boolean;
  /** The exit conditions hold (undefined when the rule has none). */
  exitMatched?: boolean;
  conditions: ExplainedCondition;
  exitConditions?: ExplainedCondition;
}

const VALUES = "__signaltag_values";

/**
 * json-rules-engine is the semantic definition of a rule. Its operators are
 * kept except where DESIGN section 3 is stricter: a null (or missing) fact
 * fails every comparison but `equal null`, and numeric comparisons need a
 * number (json-rules-engine would also take numeric text).
 */
function createEngine(): Engine {
  const engine = new Engine([], { allowUndefinedFacts: true });
  const isNull = (a: unknown) => a === null || a === undefined;
  engine.addOperator("equal", (a: unknown, b: unknown) => (isNull(a) ? b === null : a === b));
  engine.addOperator("notEqual", (a: unknown, b: unknown) => !isNull(a) && a !== b);
  engine.addOperator("in", (a: unknown, b: unknown) => !isNull(a) && Array.isArray(b) && b.includes(a));
  engine.addOperator("notIn", (a: unknown, b: unknown) => !isNull(a) && Array.isArray(b) && !b.includes(a));
  // Numeric comparisons need a number: "12" in an attribute is text, not twelve.
  const num = (a: unknown): a is number => typeof a === "number" && Number.isFinite(a);
  engine.addOperator("lessThan", (a: unknown, b: number) => num(a) && a < b);
  engine.addOperator("lessThanInclusive", (a: unknown, b: number) => num(a) && a <= b);
  engine.addOperator("greaterThan", (a: unknown, b: number) => num(a) && a > b);
  engine.addOperator("greaterThanInclusive", (a: unknown, b: number) => num(a) && a >= b);
  for (const fact of Object.keys(factCatalog)) {
    engine.addFact(
      fact,
      async (params, almanac) => {
        const values = (await almanac.factValue(VALUES)) as Record<string, unknown>;
        return values[factKey(fact, params as Record<string, unknown>)];
      },
      { cache: true },
    );
  }
  return engine;
}

export class RuleEvaluator {
  readonly rule: LoadedRule;
  readonly requests: FactRequest[];
  private readonly engine: Engine;

  constructor(rule: LoadedRule) {
    this.rule = rule;
    this.requests = collectFactRequests(rule.definition);
    this.engine = createEngine();
    const def = rule.definition;
    for (const [name, cond] of Object.entries(def.sharedConditions ?? {})) {
      this.engine.setCondition(name, lowerCaseTagValues(cond) as unknown as JreTopLevel);
    }
    const asJre = (name: string, conditions: TopLevelCondition): RuleProperties => ({
      name,
      conditions: lowerCaseTagValues(conditions) as unknown as JreTopLevel,
      event: { type: name },
    });
    this.engine.addRule(asJre("conditions", def.conditions));
    if (def.exitConditions) this.engine.addRule(asJre("exitConditions", def.exitConditions));
  }

  /** Evaluates the rule for one entity whose fact values were computed beforehand. */
  async evaluate(values: Record<string, unknown>): Promise<Evaluation> {
    const { results, failureResults } = await this.engine.run({ [VALUES]: values });
    const all = [...results, ...failureResults];
    const find = (name: string) => all.find((r) => r.name === name);
    const enter = find("conditions");
    const exit = find("exitConditions");
    const evaluation: Evaluation = {
      matched: enter?.result === true,
      conditions: explain(enter?.conditions, values),
    };
    if (exit) {
      evaluation.exitMatched = exit.result === true;
      evaluation.exitConditions = explain(exit.conditions, values);
    }
    return evaluation;
  }
}

/**
 * Tag names are unique case-insensitively: the `tags` fact holds lower-case
 * names, and the values tests compare it with are lowered to match.
 */
function lowerCaseTagValues<T>(node: T): T {
  if (Array.isArray(node)) return node.map(lowerCaseTagValues) as T;
  if (node === null || typeof node !== "object") return node;
  const obj = node as Record<string, unknown>;
  if (obj.fact === "tags") {
    const lower = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : v);
    return { ...obj, value: Array.isArray(obj.value) ? obj.value.map(lower) : lower(obj.value) } as T;
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, lowerCaseTagValues(v)])) as T;
}

type JreNode = {
  all?: JreNode[];
  any?: JreNode[];
  not?: JreNode;
  fact?: string;
  params?: Record<string, unknown>;
  path?: string;
  operator?: string;
  value?: unknown;
  factResult?: unknown;
  result?: boolean;
};

function explain(node: unknown, values: Record<string, unknown>): ExplainedCondition {
  const n = (node ?? { all: [] }) as JreNode;
  if (n.all) return { all: n.all.map((c) => explain(c, values)), result: n.result };
  if (n.any) return { any: n.any.map((c) => explain(c, values)), result: n.result };
  if (n.not) return { not: explain(n.not, values), result: n.result };
  const fact = n.fact ?? "";
  // A leaf json-rules-engine skipped still shows its value: it was computed for the batch.
  const factValue = "factResult" in n ? n.factResult : values[factKey(fact, n.params)];
  const leaf: ExplainedCondition = {
    fact,
    operator: n.operator ?? "",
    value: n.value,
    factValue: factValue === undefined ? null : factValue,
    result: n.result === true,
  };
  if (n.params && Object.keys(n.params).length > 0) leaf.params = n.params;
  if (n.path) leaf.path = n.path;
  return leaf;
}

/** One line per leaf, for terminals: `activeDays{"days":30} = 22 greaterThanInclusive 20 -> true`. */
export function describeConditions(node: ExplainedCondition, indent = ""): string[] {
  if ("all" in node || "any" in node) {
    const kind = "all" in node ? "all" : "any";
    const children = "all" in node ? node.all : (node as { any: ExplainedCondition[] }).any;
    const mark = node.result === undefined ? "" : node.result ? " ✓" : " ✗";
    return [`${indent}${kind}${mark}`, ...children.flatMap((c) => describeConditions(c, `${indent}  `))];
  }
  if ("not" in node) {
    const mark = node.result === undefined ? "" : node.result ? " ✓" : " ✗";
    return [`${indent}not${mark}`, ...describeConditions(node.not, `${indent}  `)];
  }
  const name = factKey(node.fact, node.params) + (node.path ? ` ${node.path}` : "");
  return [
    `${indent}${node.result ? "✓" : "✗"} ${name} = ${JSON.stringify(node.factValue)}  (${node.operator} ${JSON.stringify(node.value)})`,
  ];
}
