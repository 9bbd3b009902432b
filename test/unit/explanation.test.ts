import { describe, expect, it } from "vitest";
import type { RuleDefinition } from "../../src/rules/types.ts";
import { expandExplanation, isCompactExplanation } from "../../src/runs/explanation.ts";

const header = { rule: "at-risk", version: "0123456789abcdef", asOf: "2026-03-31T12:00:00.000Z" };

const rule = {
  id: "at-risk",
  name: "At risk",
  tag: "at risk",
  target: "user",
  enabled: true,
  sharedConditions: {
    paying: { all: [{ fact: "account", path: "$.contractStatus", operator: "equal", value: "paying" }] },
  },
  conditions: {
    all: [
      { condition: "paying" },
      {
        any: [
          { fact: "activeDays", params: { days: 30 }, operator: "lessThan", value: 3 },
          { not: { fact: "tags", operator: "contains", value: "champion" } },
        ],
      },
    ],
  },
  exitConditions: { all: [{ fact: "activeDays", params: { days: 7 }, operator: "greaterThan", value: 4 }] },
} as unknown as RuleDefinition;

describe("compact explanations", () => {
  it("read whole against the rule: leaves in order, shared conditions inline, all/any/not from their parts", () => {
    const stored = {
      matched: true,
      exitMatched: false,
      suppressed: false,
      facts: ["paying", 9, ["champion"], 1],
      results: [true, false, true, false],
    };
    expect(isCompactExplanation(stored)).toBe(true);
    expect(expandExplanation(rule, stored, header)).toEqual({
      ...header,
      matched: true,
      suppressed: false,
      conditions: {
        all: [
          {
            all: [
              {
                fact: "account",
                path: "$.contractStatus",
                operator: "equal",
                value: "paying",
                factValue: "paying",
                result: true,
              },
            ],
            result: true,
          },
          {
            any: [
              {
                fact: "activeDays",
                params: { days: 30 },
                operator: "lessThan",
                value: 3,
                factValue: 9,
                result: false,
              },
              {
                not: {
                  fact: "tags",
                  operator: "contains",
                  value: "champion",
                  factValue: ["champion"],
                  result: true,
                },
                result: false,
              },
            ],
            result: false,
          },
        ],
        result: false,
      },
      exitMatched: false,
      exitConditions: {
        all: [
          {
            fact: "activeDays",
            params: { days: 7 },
            operator: "greaterThan",
            value: 4,
            factValue: 1,
            result: false,
          },
        ],
        result: false,
      },
    });
  });

  it("are not read against a definition with another number of leaves", () => {
    const stored = { matched: true, suppressed: false, facts: [1, 2], results: [true, true] };
    expect(expandExplanation(rule, stored, header)).toBeUndefined();
  });

  it("are told apart from the whole explanations other paths store", () => {
    expect(isCompactExplanation({ ...header, matched: true, conditions: { all: [] } })).toBe(false);
    expect(isCompactExplanation({ ...header, reason: "created after the as-of instant" })).toBe(false);
    expect(isCompactExplanation(null)).toBe(false);
  });
});
