import { describe, expect, it } from "vitest";
import { factNames } from "../../src/facts/catalog.ts";
import type { ExplainedCondition } from "../../src/runs/evaluate.ts";
import {
  conditionLines,
  explanationSentences,
  leafSentences,
  leafWords,
  withWords,
} from "../../src/runs/explanation-words.ts";

const words = (fact: string, operator: string, value: unknown, factValue: unknown, extra = {}) =>
  leafWords({ fact, operator, value, factValue, ...extra });

describe("conditions in words", () => {
  it("phrases windows of activity with the window's length", () => {
    expect(words("activeDays", "greaterThanInclusive", 20, 22, { params: { days: 30 } })).toEqual({
      condition: "at least 20 active days in the last 30 days",
      actual: "active on 22 of the last 30 days",
    });
    expect(words("activeDays", "equal", 0, 0, { params: { days: 30 } })).toEqual({
      condition: "no active days in the last 30 days",
      actual: "active on 0 of the last 30 days",
    });
    expect(words("activeDays", "greaterThan", 0, 1, { params: { days: 1 } })).toEqual({
      condition: "more than 0 active days today",
      actual: "active today",
    });
    expect(words("activeUsers", "lessThan", 3, 1, { params: { days: 7 } })).toEqual({
      condition: "fewer than 3 active users in the last 7 days",
      actual: "1 active user in the last 7 days",
    });
    expect(
      words("eventCount", "greaterThanInclusive", 1, 4, {
        params: { days: 14, activity: "report.exported", module: "reports" },
      }),
    ).toEqual({
      condition: "at least 1 report.exported event in module reports in the last 14 days",
      actual: "4 report.exported events in module reports in the last 14 days",
    });
    expect(words("modulesUsed", "contains", "billing", ["billing", "crm"], { params: { days: 30 } })).toEqual(
      {
        condition: "used module billing in the last 30 days",
        actual: "used modules billing, crm in the last 30 days",
      },
    );
    expect(words("modulesUsed", "doesNotContain", "crm", [], { params: { days: 30 } })).toEqual({
      condition: "did not use module crm in the last 30 days",
      actual: "used no module in the last 30 days",
    });
  });

  it("phrases days since and until as a person counts them", () => {
    expect(words("daysSinceCreated", "lessThan", 30, 12)).toEqual({
      condition: "created fewer than 30 days ago",
      actual: "created 12 days ago",
    });
    expect(words("daysSinceProvisioned", "lessThanInclusive", 1, 0)).toEqual({
      condition: "provisioned at most 1 day ago",
      actual: "provisioned today",
    });
    expect(words("daysSinceLastActive", "greaterThan", 30, 1)).toEqual({
      condition: "last active more than 30 days ago",
      actual: "last active yesterday",
    });
    expect(words("daysSinceLastActive", "equal", null, null)).toEqual({
      condition: "never active",
      actual: "never active",
    });
    expect(words("daysSinceLastActive", "notEqual", null, 3).condition).toBe("active at some time");
    expect(words("daysUntilRenewal", "lessThanInclusive", 90, 45)).toEqual({
      condition: "renewal in at most 90 days",
      actual: "renewal in 45 days",
    });
    expect(words("daysUntilRenewal", "greaterThanInclusive", 0, -3)).toEqual({
      condition: "renewal today or later",
      actual: "renewal 3 days ago",
    });
    expect(words("daysUntilRenewal", "lessThan", 30, null).actual).toBe("no renewal date");
  });

  it("phrases labels, scores, counts, attributes and tags", () => {
    expect(words("health", "equal", "poor", "poor")).toEqual({
      condition: "health is poor",
      actual: "health is poor",
    });
    expect(words("health", "notIn", ["good", "average"], null)).toEqual({
      condition: "health is neither good nor average",
      actual: "no health label",
    });
    expect(words("contractStatus", "in", ["trial", "paying"], "paying")).toEqual({
      condition: "contract status is trial or paying",
      actual: "contract status is paying",
    });
    expect(words("contractStatus", "notEqual", "churned", "trial").condition).toBe(
      "contract status is not churned",
    );
    expect(words("healthScore", "lessThan", 40, 35)).toEqual({
      condition: "health score below 40",
      actual: "health score 35",
    });
    expect(words("healthScore", "greaterThan", 70, null).actual).toBe("no health score");
    expect(words("userCount", "greaterThanInclusive", 5, 1)).toEqual({
      condition: "at least 5 users",
      actual: "1 user",
    });
    expect(words("attributes", "equal", "enterprise", "pro", { path: "$.plan" })).toEqual({
      condition: "attribute plan is enterprise",
      actual: "attribute plan is pro",
    });
    expect(words("account", "equal", "paying", null, { path: "$.contractStatus" })).toEqual({
      condition: "account contractStatus is paying",
      actual: "no account contractStatus",
    });
    expect(words("tags", "contains", "champion", ["champion", "vip"])).toEqual({
      condition: 'has tag "champion"',
      actual: "has tags champion, vip",
    });
    expect(words("tags", "doesNotContain", "churned", []).condition).toBe('does not have tag "churned"');
    expect(words("tags", "doesNotContain", "churned", []).actual).toBe("has no tags");
  });

  it("phrases every operator on a numeric fact", () => {
    const cases: [string, unknown, string][] = [
      ["equal", 3, "exactly 3 users"],
      ["notEqual", 3, "not exactly 3 users"],
      ["lessThan", 3, "fewer than 3 users"],
      ["lessThanInclusive", 3, "at most 3 users"],
      ["greaterThan", 3, "more than 3 users"],
      ["greaterThanInclusive", 3, "at least 3 users"],
      ["in", [1, 2], "1 or 2 users"],
      ["notIn", [1, 2], "neither 1 nor 2 users"],
    ];
    for (const [op, value, expected] of cases)
      expect(words("userCount", op, value, 4).condition).toBe(expected);
  });

  it("gives every fact in the catalog words for its value", () => {
    for (const fact of factNames) {
      const w = words(fact, "equal", null, null, { params: { days: 30 }, path: "$.plan" });
      expect(w.actual, fact).not.toBe("");
      expect(w.condition, fact).not.toBe("");
    }
  });
});

const tree: ExplainedCondition = {
  all: [
    { fact: "contractStatus", operator: "equal", value: "paying", factValue: "paying", result: true },
    { fact: "health", operator: "equal", value: "poor", factValue: "good", result: false },
    {
      not: { fact: "tags", operator: "contains", value: "champion", factValue: [], result: false },
      result: true,
    },
  ],
  result: false,
};

describe("explanations in words", () => {
  it("prints each exact line followed by its words", () => {
    expect(conditionLines(tree, "  ")).toEqual([
      "  all ✗",
      '    ✓ contractStatus = "paying"  (equal "paying")',
      "        contract status is paying: yes, contract status is paying",
      '    ✗ health = "good"  (equal "poor")',
      "        health is poor: no, health is good",
      "    not ✓",
      '      ✗ tags = []  (contains "champion")',
      '          has tag "champion": no, has no tags',
    ]);
  });

  it("says why a tag was claimed or dropped from the leaves that decided it, a not's failures counting for it", () => {
    expect(leafSentences(tree, true)).toEqual([
      "contract status is paying: yes, contract status is paying",
      'has tag "champion": no, has no tags',
    ]);
    expect(explanationSentences({ rule: "r", version: "v", asOf: "", conditions: tree }, "remove")).toEqual([
      "health is poor: no, health is good",
    ]);
    expect(
      explanationSentences(
        { rule: "r", version: "v", asOf: "", reason: "created after the as-of instant" },
        "remove",
      ),
    ).toEqual(["created after the as-of instant"]);
  });

  it("adds words to the JSON form and keeps every field", () => {
    const annotated = withWords(tree) as { all: Record<string, unknown>[] };
    expect(annotated.all[0]).toEqual({
      fact: "contractStatus",
      operator: "equal",
      value: "paying",
      factValue: "paying",
      result: true,
      words: { condition: "contract status is paying", actual: "contract status is paying" },
    });
  });
});
