import { describe, expect, it } from "vitest";
import { factKey } from "../../src/facts/compute.ts";
import type { LoadedRule, RuleDefinition, TopLevelCondition } from "../../src/rules/types.ts";
import { claimedAfter, decide } from "../../src/runs/decide.ts";
import { RuleEvaluator } from "../../src/runs/evaluate.ts";

function rule(conditions: TopLevelCondition, extra: Partial<RuleDefinition> = {}): LoadedRule {
  return {
    definition: { id: "r", name: "R", tag: "t", target: "account", enabled: true, conditions, ...extra },
    version: "v1",
    file: "r.json",
  };
}

async function matches(conditions: TopLevelCondition, values: Record<string, unknown>): Promise<boolean> {
  return (await new RuleEvaluator(rule(conditions)).evaluate(values)).matched;
}

describe("null facts", () => {
  const renewal = (operator: string, value: unknown) =>
    ({ all: [{ fact: "daysUntilRenewal", operator, value }] }) as TopLevelCondition;

  it("fail every numeric comparison", async () => {
    for (const op of ["lessThan", "lessThanInclusive", "greaterThan", "greaterThanInclusive"]) {
      expect(await matches(renewal(op, 90), { daysUntilRenewal: null })).toBe(false);
    }
  });

  it("fail notEqual, in and notIn", async () => {
    expect(await matches(renewal("notEqual", 5), { daysUntilRenewal: null })).toBe(false);
    expect(await matches(renewal("in", [1, 2]), { daysUntilRenewal: null })).toBe(false);
    expect(await matches(renewal("notIn", [1, 2]), { daysUntilRenewal: null })).toBe(false);
  });

  it("match equal null and nothing else", async () => {
    expect(await matches(renewal("equal", null), { daysUntilRenewal: null })).toBe(true);
    expect(await matches(renewal("equal", 0), { daysUntilRenewal: null })).toBe(false);
    expect(await matches(renewal("equal", null), { daysUntilRenewal: 3 })).toBe(false);
  });

  it("treat a missing attribute path like null", async () => {
    const cond = {
      all: [{ fact: "attributes", path: "$.plan", operator: "notEqual", value: "free" }],
    } as TopLevelCondition;
    expect(await matches(cond, { attributes: {} })).toBe(false);
    expect(await matches(cond, { attributes: { plan: "pro" } })).toBe(true);
  });
});

describe("renewal-risk conditions", () => {
  const conditions = {
    all: [
      { fact: "contractStatus", operator: "equal", value: "paying" },
      { fact: "daysUntilRenewal", operator: "greaterThanInclusive", value: 0 },
      { fact: "daysUntilRenewal", operator: "lessThanInclusive", value: 90 },
      { fact: "health", operator: "equal", value: "poor" },
    ],
  } as TopLevelCondition;

  it("match at both ends of 0..90 days and not outside", async () => {
    const base = { contractStatus: "paying", health: "poor" };
    expect(await matches(conditions, { ...base, daysUntilRenewal: 0 })).toBe(true);
    expect(await matches(conditions, { ...base, daysUntilRenewal: 90 })).toBe(true);
    expect(await matches(conditions, { ...base, daysUntilRenewal: 91 })).toBe(false);
    expect(await matches(conditions, { ...base, daysUntilRenewal: -1 })).toBe(false);
    expect(await matches(conditions, { ...base, daysUntilRenewal: null })).toBe(false);
  });

  it("explain every condition with its fact value", async () => {
    const evaluation = await new RuleEvaluator(rule(conditions)).evaluate({
      contractStatus: "trial",
      daysUntilRenewal: 12,
      health: "poor",
    });
    expect(evaluation.matched).toBe(false);
    const leaves = (evaluation.conditions as { all: { fact: string; factValue: unknown; result: boolean }[] })
      .all;
    expect(leaves.map((l) => [l.fact, l.factValue, l.result])).toEqual([
      ["contractStatus", "trial", false],
      ["daysUntilRenewal", 12, true],
      ["daysUntilRenewal", 12, true],
      ["health", "poor", true],
    ]);
  });
});

describe("params and exit conditions", () => {
  it("gives each window its own value", async () => {
    const cond = {
      all: [
        { fact: "activeDays", params: { days: 7 }, operator: "equal", value: 0 },
        { fact: "activeDays", params: { days: 30 }, operator: "greaterThan", value: 0 },
      ],
    } as TopLevelCondition;
    const values = { [factKey("activeDays", { days: 7 })]: 0, [factKey("activeDays", { days: 30 })]: 4 };
    expect(await matches(cond, values)).toBe(true);
  });

  it("keep a tag between the thresholds until the exit conditions match", async () => {
    const r = rule(
      { all: [{ fact: "healthScore", operator: "lessThan", value: 40 }] },
      { exitConditions: { all: [{ fact: "healthScore", operator: "greaterThanInclusive", value: 60 }] } },
    );
    const evaluator = new RuleEvaluator(r);
    const at = async (score: number, claimed: boolean) => {
      const { matched, exitMatched } = await evaluator.evaluate({ healthScore: score });
      return claimedAfter(decide({ matched, exitMatched, held: claimed, suppressed: false }));
    };
    expect(await at(30, false)).toBe(true);
    expect(await at(50, false)).toBe(false);
    expect(await at(50, true)).toBe(true);
    expect(await at(60, true)).toBe(false);
  });

  it("resolve shared condition references", async () => {
    const r = rule(
      { all: [{ condition: "isPaying" }] },
      {
        sharedConditions: {
          isPaying: { all: [{ fact: "contractStatus", operator: "equal", value: "paying" }] },
        },
      },
    );
    const evaluator = new RuleEvaluator(r);
    expect((await evaluator.evaluate({ contractStatus: "paying" })).matched).toBe(true);
    expect((await evaluator.evaluate({ contractStatus: "trial" })).matched).toBe(false);
  });
});

describe("tags", () => {
  it("compare tag names case-insensitively", async () => {
    const cond = { all: [{ fact: "tags", operator: "contains", value: "Power Users" }] } as TopLevelCondition;
    expect(await matches(cond, { tags: ["power users"] })).toBe(true);
    expect(await matches(cond, { tags: ["new user"] })).toBe(false);
  });
});
