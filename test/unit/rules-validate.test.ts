import { describe, expect, it } from "vitest";
import type { RuleProblem } from "../../src/rules/load.ts";
import { validateRuleObject, validateRuleText } from "../../src/rules/validate.ts";

const FILE = "rules/example.json";

function userRule(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "example",
    name: "Example",
    tag: "example",
    target: "user",
    conditions: {
      all: [{ fact: "activeDays", params: { days: 30 }, operator: "greaterThanInclusive", value: 20 }],
    },
    ...overrides,
  };
}

function accountRule(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return userRule({
    target: "account",
    conditions: { all: [{ fact: "userCount", operator: "greaterThan", value: 10 }] },
    ...overrides,
  });
}

const leaf = (condition: Record<string, unknown>, base = userRule) =>
  base({ conditions: { all: [condition] } });

function problemsOf(json: unknown): RuleProblem[] {
  const result = validateRuleObject(json, FILE);
  expect(result.rule).toBeUndefined();
  return result.problems;
}

/** The one problem at `pointer`, checked to name the file. */
function problemAt(json: unknown, pointer: string): RuleProblem {
  const problems = problemsOf(json);
  const found = problems.filter((p) => p.pointer === pointer);
  expect(found, JSON.stringify(problems, null, 2)).toHaveLength(1);
  expect(found[0].file).toBe(FILE);
  return found[0];
}

describe("validateRuleObject", () => {
  it("accepts a valid rule and fills in enabled", () => {
    const { rule, problems } = validateRuleObject({ $schema: "./rule.schema.json", ...userRule() }, FILE);
    expect(problems).toEqual([]);
    expect(rule).toMatchObject({ id: "example", enabled: true, target: "user" });
    expect(rule).not.toHaveProperty("$schema");
  });

  it("reports an unknown fact with a suggestion", () => {
    const problem = problemAt(
      leaf({ fact: "activeDay", params: { days: 30 }, operator: "greaterThan", value: 1 }),
      "/conditions/all/0/fact",
    );
    expect(problem.message).toContain('unknown fact "activeDay"');
    expect(problem.suggestion).toBe("activeDays");
  });

  it("lists the facts of the rule's target when an unknown fact is nothing like any of them", () => {
    const problem = problemAt(leaf({ fact: "zzz", operator: "equal", value: 1 }), "/conditions/all/0/fact");
    expect(problem.suggestion).toBeUndefined();
    expect(problem.message).toContain('"daysSinceCreated"');
    expect(problem.message).not.toContain('"daysSinceProvisioned"');
  });

  it("reports a fact that is not available for the rule's target", () => {
    const problem = problemAt(
      leaf({ fact: "daysSinceProvisioned", operator: "lessThan", value: 30 }),
      "/conditions/all/0/fact",
    );
    expect(problem.message).toMatch(/not available for user rules/);
  });

  it("reports unknown top-level keys with a suggestion", () => {
    const problem = problemAt(userRule({ discription: "x" }), "/discription");
    expect(problem.suggestion).toBe("description");
  });

  it("reports missing required keys", () => {
    const { id: _id, tag: _tag, conditions: _conditions, ...rest } = userRule();
    const problems = problemsOf(rest);
    expect(problems.map((p) => p.pointer).sort()).toEqual(["", "/id", "/tag"]);
    expect(problems.find((p) => p.pointer === "/tag")?.message).toMatch(/missing "tag"/);
    expect(problems.find((p) => p.pointer === "")?.message).toMatch(/missing "conditions"/);
  });

  it("checks id, tag, target, enabled and removalGuard", () => {
    expect(problemAt(userRule({ id: "Power Users" }), "/id").suggestion).toBe("power-users");
    expect(problemAt(userRule({ tag: " padded " }), "/tag").suggestion).toBe("padded");
    expect(problemAt(userRule({ tag: "" }), "/tag").message).toMatch(/empty/);
    expect(problemAt(userRule({ tag: "x".repeat(201) }), "/tag").message).toMatch(/201 characters long/);
    expect(problemAt(userRule({ target: "users" }), "/target").suggestion).toBe("user");
    expect(problemAt(userRule({ enabled: "yes" }), "/enabled").message).toMatch(/true or false/);
    expect(problemAt(userRule({ removalGuard: 1.5 }), "/removalGuard").message).toMatch(/from 0 to 1/);
  });

  it("holds a rule's own tag to the tag-name check every other tag name passes", () => {
    const cases: [string, RegExp][] = [
      [
        "new\r\nuser",
        /"tag" contains a control character \(line break, tab, NUL\.\.\.\) \(U\+000D\) at character 4/,
      ],
      ["admin\u202eresu", /"tag" contains a bidirectional override or isolate \(U\+202E\) at character 6/],
      ["new\u200buser", /"tag" contains a zero-width character \(U\+200B\) at character 4/],
      ["\u{1f600}".repeat(201), /"tag" is 201 characters long; tag names have at most 200/],
    ];
    for (const [tag, message] of cases) {
      const text = JSON.stringify(userRule({ tag }), null, 2);
      const found = validateRuleText(text, FILE).problems.filter((p) => p.pointer === "/tag");
      expect(found, tag).toHaveLength(1);
      expect(found[0]).toMatchObject({ file: FILE, line: 4 });
      expect(found[0]!.message).toMatch(message);
    }
  });

  it("stores a rule's tag NFC-normalised, as every other tag name, and keeps an emoji's joiner", () => {
    expect(validateRuleObject(userRule({ tag: "cafe\u0301" }), FILE).rule?.tag).toBe("caf\u00e9");
    expect(validateRuleObject(userRule({ tag: "\u{1f469}\u200d\u{1f680} crew" }), FILE).problems).toEqual([]);
  });

  it("accepts a 5- or 6-field cron expression and an IANA time zone", () => {
    for (const cron of ["0 * * * *", "0 0 6 * * 1-5"]) {
      expect(
        validateRuleObject(userRule({ schedule: { cron, timezone: "Europe/Berlin" } }), FILE).problems,
      ).toEqual([]);
    }
  });

  it("reports an invalid cron expression and an unknown time zone", () => {
    const json = userRule({ schedule: { cron: "61 * * * *", timezone: "Europe/Berln" } });
    expect(problemAt(json, "/schedule/cron").message).toMatch(/cron expression "61 \* \* \* \*" is invalid/);
    expect(problemAt(json, "/schedule/timezone").suggestion).toBe("Europe/Berlin");
    expect(
      problemAt(userRule({ schedule: { cron: "* * *", timezone: "UTC" } }), "/schedule/cron").message,
    ).toMatch(/has 3 fields/);
    expect(
      problemAt(userRule({ schedule: { cron: "@daily", timezone: "UTC" } }), "/schedule/cron").message,
    ).toMatch(/aliases/);
    expect(
      problemAt(userRule({ schedule: { cron: "0 * * * *", tz: "UTC" } }), "/schedule/tz").suggestion,
    ).toBe(undefined);
  });

  it("reports missing, unknown and out-of-range params", () => {
    expect(
      problemAt(leaf({ fact: "activeDays", operator: "equal", value: 0 }), "/conditions/all/0").message,
    ).toMatch(/missing "params".*"days"/);
    const typo = problemAt(
      leaf({ fact: "activeDays", params: { dys: 30 }, operator: "equal", value: 0 }),
      "/conditions/all/0/params/dys",
    );
    expect(typo.suggestion).toBe("days");
    for (const days of [0, 3661, 1.5, "30"]) {
      const problem = problemAt(
        leaf({ fact: "activeDays", params: { days }, operator: "equal", value: 0 }),
        "/conditions/all/0/params/days",
      );
      expect(problem.message).toMatch(/whole number of days from 1 to 3660/);
    }
    expect(
      problemAt(
        leaf({ fact: "eventCount", params: { days: 7, activity: 3 }, operator: "greaterThan", value: 0 }),
        "/conditions/all/0/params/activity",
      ).message,
    ).toMatch(/non-empty string/);
    expect(
      problemAt(
        leaf({ fact: "daysSinceCreated", params: { days: 7 }, operator: "lessThan", value: 3 }),
        "/conditions/all/0/params",
      ).message,
    ).toMatch(/takes no params/);
  });

  it("accepts eventCount with activity and module params", () => {
    const json = leaf({
      fact: "eventCount",
      params: { days: 7, activity: "export", module: "reports" },
      operator: "greaterThan",
      value: 0,
    });
    expect(validateRuleObject(json, FILE).problems).toEqual([]);
  });

  it("allows path only on object facts and requires a JSONPath starting with $", () => {
    expect(
      validateRuleObject(leaf({ fact: "attributes", path: "$.plan", operator: "equal", value: "pro" }), FILE)
        .problems,
    ).toEqual([]);
    expect(
      problemAt(leaf({ fact: "attributes", operator: "equal", value: "pro" }), "/conditions/all/0").message,
    ).toMatch(/add a "path"/);
    expect(
      problemAt(
        leaf({ fact: "attributes", path: "plan", operator: "equal", value: "pro" }),
        "/conditions/all/0/path",
      ).suggestion,
    ).toBe("$.plan");
    expect(
      problemAt(
        leaf({ fact: "account", path: "$..plan", operator: "equal", value: "pro" }),
        "/conditions/all/0/path",
      ).message,
    ).toMatch(/select one field/);
    expect(
      problemAt(
        leaf({ fact: "daysSinceCreated", path: "$.x", operator: "equal", value: 1 }),
        "/conditions/all/0/path",
      ).message,
    ).toMatch(/only to object facts/);
  });

  it("reports an unknown operator and suggests json-rules-engine's spelling", () => {
    const op = (operator: string) =>
      problemAt(leaf({ fact: "daysSinceCreated", operator, value: 3 }), "/conditions/all/0/operator")
        .suggestion;
    expect(op(">=")).toBe("greaterThanInclusive");
    expect(op("greaterThen")).toBe("greaterThan");
    expect(op("lte")).toBe("lessThanInclusive");
    expect(op("bogus")).toBeUndefined();
  });

  it("reports operator and value type mismatches", () => {
    const at = (condition: Record<string, unknown>, pointer: string, base = userRule) =>
      problemAt(leaf(condition, base), `/conditions/all/0${pointer}`).message;
    expect(at({ fact: "daysSinceCreated", operator: "greaterThan", value: "20" }, "/value")).toMatch(
      /needs a number/,
    );
    expect(at({ fact: "daysSinceCreated", operator: "in", value: 3 }, "/value")).toMatch(/needs an array/);
    expect(at({ fact: "daysSinceCreated", operator: "contains", value: 3 }, "/operator")).toMatch(
      /list facts/,
    );
    expect(at({ fact: "daysSinceCreated", operator: "equal", value: "3" }, "/value")).toMatch(
      /needs a number/,
    );
    expect(at({ fact: "tags", operator: "equal", value: "vip" }, "/operator")).toMatch(/use "contains"/);
    expect(at({ fact: "tags", operator: "contains", value: ["vip"] }, "/value")).toMatch(
      /one non-empty string/,
    );
    expect(
      at({ fact: "modulesUsed", params: { days: 7 }, operator: "in", value: ["a"] }, "/operator"),
    ).toMatch(/use "contains"/);
    expect(at({ fact: "health", operator: "lessThan", value: 3 }, "/operator", accountRule)).toMatch(
      /compares numbers/,
    );
    expect(at({ fact: "attributes", path: "$.plan", operator: "equal", value: { a: 1 } }, "/value")).toMatch(
      /never matches/,
    );
  });

  it("reports an unknown enum value with a suggestion", () => {
    const problem = problemAt(
      leaf({ fact: "contractStatus", operator: "equal", value: "payin" }, accountRule),
      "/conditions/all/0/value",
    );
    expect(problem.message).toMatch(/"payin" is not a value of "contractStatus"/);
    expect(problem.suggestion).toBe("paying");
    const inList = problemAt(
      leaf({ fact: "health", operator: "in", value: ["good", "pour"] }, accountRule),
      "/conditions/all/0/value/1",
    );
    expect(inList.suggestion).toBe("poor");
  });

  it("allows equal null only on nullable facts", () => {
    for (const fact of ["contractStatus", "healthScore", "daysUntilRenewal", "health"]) {
      expect(
        validateRuleObject(leaf({ fact, operator: "equal", value: null }, accountRule), FILE).problems,
      ).toEqual([]);
    }
    expect(
      problemAt(
        leaf({ fact: "userCount", operator: "equal", value: null }, accountRule),
        "/conditions/all/0/value",
      ).message,
    ).toMatch(/never null/);
  });

  it("accepts any, not and shared condition references, and reports an unknown reference", () => {
    const ok = userRule({
      conditions: {
        any: [{ condition: "recent" }, { not: { fact: "tags", operator: "contains", value: "x" } }],
      },
      exitConditions: { not: { condition: "recent" } },
      sharedConditions: {
        recent: { all: [{ fact: "daysSinceLastActive", operator: "lessThan", value: 3 }] },
      },
    });
    expect(validateRuleObject(ok, FILE).problems).toEqual([]);
    const typo = problemAt(
      { ...ok, conditions: { any: [{ condition: "recnet" }] } },
      "/conditions/any/0/condition",
    );
    expect(typo.suggestion).toBe("recent");
    expect(
      problemAt(userRule({ conditions: { all: [{ condition: "x" }] } }), "/conditions/all/0/condition")
        .message,
    ).toMatch(/unknown shared condition "x"/);
  });

  it("reports shared conditions that refer to themselves", () => {
    const json = userRule({
      conditions: { all: [{ condition: "a" }] },
      sharedConditions: { a: { all: [{ condition: "b" }] }, b: { any: [{ condition: "a" }] } },
    });
    expect(problemAt(json, "/sharedConditions/a").message).toMatch(/a -> b -> a/);
  });

  it("reports a bare test at the top of a condition tree and an empty all", () => {
    expect(
      problemAt(
        userRule({ conditions: { fact: "daysSinceCreated", operator: "lessThan", value: 3 } }),
        "/conditions",
      ).message,
    ).toMatch(/wrap this test/);
    expect(problemAt(userRule({ conditions: { all: [] } }), "/conditions/all").message).toMatch(/is empty/);
    expect(problemAt(userRule({ exitConditions: { any: {} } }), "/exitConditions/any").message).toMatch(
      /must be an array/,
    );
  });

  it("reports misspelled condition keys once, with a suggestion", () => {
    const problems = problemsOf(leaf({ fact: "daysSinceCreated", operater: "lessThan", value: 3 }));
    expect(problems).toEqual([
      expect.objectContaining({ pointer: "/conditions/all/0/operater", suggestion: "operator" }),
    ]);
  });

  it("reports every problem in one document at once", () => {
    const json = {
      id: "Bad Id",
      name: "Bad",
      tag: "bad",
      target: "user",
      colour: "red",
      schedule: { cron: "0 * *", timezone: "Mars/Base" },
      conditions: {
        all: [
          { fact: "activeDay", params: { days: 30 }, operator: "greaterThanInclusive", value: 20 },
          { fact: "daysSinceProvisioned", operator: "lessThan", value: 30 },
          { fact: "activeDays", params: { days: 0 }, operator: "gte", value: 20 },
        ],
      },
    };
    expect(
      problemsOf(json)
        .map((p) => p.pointer)
        .sort(),
    ).toEqual(
      [
        "/id",
        "/colour",
        "/schedule/cron",
        "/schedule/timezone",
        "/conditions/all/0/fact",
        "/conditions/all/1/fact",
        "/conditions/all/2/params/days",
        "/conditions/all/2/operator",
      ].sort(),
    );
  });

  it("refuses a document that is not an object", () => {
    expect(problemsOf([])[0]).toMatchObject({ file: FILE, pointer: "" });
  });
});

describe("validateRuleText", () => {
  it("reports invalid JSON with its line and column", () => {
    const text = '{\n  "id": "x",\n  "name": "X"\n  "tag": "x"\n}\n';
    const { problems } = validateRuleText(text, FILE);
    expect(problems).toEqual([
      expect.objectContaining({
        file: FILE,
        pointer: "",
        line: 4,
        column: 3,
        message: expect.stringMatching(/invalid JSON/),
      }),
    ]);
  });

  it("reports a trailing comma and an unexpected end of file", () => {
    expect(validateRuleText('{\n  "id": "x",\n}', FILE).problems[0]).toMatchObject({ line: 3, column: 1 });
    expect(validateRuleText('{\n  "id": "x",\n', FILE).problems[0]).toMatchObject({ line: 3, column: 1 });
    expect(validateRuleText("", FILE).problems[0].message).toMatch(/empty/);
  });

  it("adds the line and column of each problem's pointer", () => {
    const text = JSON.stringify(
      leaf({ fact: "activeDay", params: { days: 30 }, operator: "equal", value: 0 }),
      null,
      2,
    );
    const [problem] = validateRuleText(text, FILE).problems;
    expect(problem).toMatchObject({ pointer: "/conditions/all/0/fact", suggestion: "activeDays", line: 9 });
    expect(text.split("\n")[problem.line! - 1].slice(problem.column! - 1)).toMatch(/^"fact"/);
  });

  it("reports a key that appears twice in one object", () => {
    const text = JSON.stringify(userRule()).replace('"tag":"example"', '"tag":"a","tag":"b"');
    expect(validateRuleText(text, FILE).problems).toEqual([
      expect.objectContaining({ pointer: "/tag", message: expect.stringMatching(/more than once/) }),
    ]);
  });
});
