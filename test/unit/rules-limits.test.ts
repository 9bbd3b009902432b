import { describe, expect, it } from "vitest";
import { MAX_CONDITION_DEPTH, MAX_CONDITIONS, MAX_JSON_DEPTH } from "../../src/limits.ts";
import { validateRuleObject, validateRuleText } from "../../src/rules/validate.ts";

const FILE = "rules/deep.json";
const test = { fact: "activeDays", params: { days: 30 }, operator: "greaterThan", value: 1 };

function rule(conditions: unknown): Record<string, unknown> {
  return { id: "deep", name: "Deep", tag: "deep", target: "user", conditions };
}

/** `{ "all": [ { "all": [ ... test ] } ] }` with `levels` groups. */
function nested(levels: number): unknown {
  let node: unknown = test;
  for (let i = 0; i < levels; i++) node = { all: [node] };
  return node;
}

describe("rule size limits", () => {
  it("accepts a tree at the depth limit", () => {
    expect(validateRuleObject(rule(nested(MAX_CONDITION_DEPTH - 1)), FILE).problems).toEqual([]);
  });

  it("refuses conditions nested past the depth limit at the first node too deep", () => {
    const { problems } = validateRuleObject(rule(nested(MAX_CONDITION_DEPTH + 5)), FILE);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      file: FILE,
      pointer: `/conditions${"/all/0".repeat(MAX_CONDITION_DEPTH)}`,
      message: expect.stringContaining(`more than ${MAX_CONDITION_DEPTH} levels`),
    });
  });

  it("refuses conditions nested 10,000 deep without overflowing the stack", () => {
    const { problems } = validateRuleObject(rule(nested(10_000)), FILE);
    expect(problems.map((p) => p.message)).toEqual([expect.stringContaining("levels deep")]);
  });

  it("refuses more conditions than the limit", () => {
    const { problems } = validateRuleObject(
      rule({ any: Array.from({ length: MAX_CONDITIONS }, () => test) }),
      FILE,
    );
    expect(problems).toEqual([
      expect.objectContaining({
        pointer: "/conditions",
        message: expect.stringContaining(`more than ${MAX_CONDITIONS} conditions`),
      }),
    ]);
  });

  it("refuses a rule file nested 3,000 deep with the file, a pointer and a line", () => {
    const text = `{"id":"deep","name":"Deep","tag":"deep","target":"user","conditions":${"[".repeat(3000)}${"]".repeat(3000)}}`;
    const { problems } = validateRuleText(text, FILE);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      file: FILE,
      pointer: `/conditions${"/0".repeat(MAX_JSON_DEPTH - 1)}`,
      line: 1,
      message: expect.stringContaining(`more than ${MAX_JSON_DEPTH} levels`),
    });
  });
});
