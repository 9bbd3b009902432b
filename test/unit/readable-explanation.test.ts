import { describe, expect, it } from "vitest";
import type { LoadedRule } from "../../src/rules/types.ts";
import { readableExplanation } from "../../src/runs/explanation.ts";

const loaded = {
  definition: {
    id: "busy",
    name: "Busy",
    tag: "busy",
    target: "user",
    enabled: true,
    conditions: { all: [{ fact: "activeDays", params: { days: 7 }, operator: "greaterThan", value: 3 }] },
  },
  version: "0123456789abcdef",
  file: "busy.json",
} as unknown as LoadedRule;
const asOf = "2026-03-31T12:00:00.000Z";

describe("readable explanations", () => {
  it("expand a compact explanation against the rule that wrote it", () => {
    const read = readableExplanation(loaded, asOf, { matched: true, facts: [5], results: [true] });
    expect(read).toMatchObject({ rule: "busy", version: "0123456789abcdef", asOf, matched: true });
    expect(read.conditions).toEqual({
      all: [
        {
          fact: "activeDays",
          params: { days: 7 },
          operator: "greaterThan",
          value: 3,
          factValue: 5,
          result: true,
        },
      ],
      result: true,
    });
  });

  it("keep an explanation that is whole already, or one another version wrote", () => {
    const whole = { rule: "busy", version: "v", asOf, reason: "created after the as-of instant" };
    expect(readableExplanation(loaded, asOf, whole)).toBe(whole);
    const other = { matched: true, facts: [1, 2], results: [true, true] };
    expect(readableExplanation(loaded, asOf, other)).toBe(other);
  });
});
