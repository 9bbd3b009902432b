import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  checkAcrossFiles,
  formatProblems,
  loadRulesDir,
  mustWaitFor,
  orderByDependencies,
  ruleVersion,
} from "../../src/rules/load.ts";
import type { Condition, LoadedRule, RuleDefinition } from "../../src/rules/types.ts";

const rulesDir = fileURLToPath(new URL("../../rules", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/rules/${name}`, import.meta.url));

function rule(
  id: string,
  tag: string,
  tests: string[] = [],
  target: "user" | "account" = "user",
): LoadedRule {
  const all: Condition[] = [
    { fact: "activeDays", params: { days: 7 }, operator: "greaterThan", value: 1 },
    ...tests.map((t): Condition => ({ fact: "tags", operator: "contains", value: t })),
  ];
  const definition: RuleDefinition = { id, name: id, tag, target, enabled: true, conditions: { all } };
  return { definition, version: ruleVersion(definition), file: `rules/${id}.json` };
}

describe("the standard rules", () => {
  it("validate, one per file named after its id", async () => {
    const { rules, problems } = await loadRulesDir(rulesDir);
    expect(formatProblems(problems)).toBe("");
    expect(rules.map((r) => r.definition.id)).toEqual([
      "inactive-user",
      "new-account",
      "new-user",
      "power-users",
      "renewal-risk",
    ]);
    for (const r of rules) expect(r.file.endsWith(`${r.definition.id}.json`)).toBe(true);
  });

  it("match the table of the design", async () => {
    const { rules } = await loadRulesDir(rulesDir);
    const byId = Object.fromEntries(rules.map((r) => [r.definition.id, r.definition]));
    expect(byId["new-user"]).toMatchObject({
      tag: "new user",
      target: "user",
      conditions: { all: [{ fact: "daysSinceCreated", operator: "lessThan", value: 30 }] },
    });
    expect(byId["power-users"]).toMatchObject({
      tag: "power users",
      target: "user",
      conditions: {
        all: [{ fact: "activeDays", params: { days: 30 }, operator: "greaterThanInclusive", value: 20 }],
      },
    });
    expect(byId["inactive-user"]).toMatchObject({
      tag: "inactive user",
      target: "user",
      conditions: { all: [{ fact: "activeDays", params: { days: 30 }, operator: "equal", value: 0 }] },
    });
    expect(byId["new-account"]).toMatchObject({
      tag: "new-account",
      target: "account",
      conditions: { all: [{ fact: "daysSinceProvisioned", operator: "lessThan", value: 30 }] },
    });
    expect(byId["renewal-risk"]).toMatchObject({
      tag: "renewal-risk",
      target: "account",
      conditions: {
        all: [
          { fact: "contractStatus", operator: "equal", value: "paying" },
          { fact: "daysUntilRenewal", operator: "greaterThanInclusive", value: 0 },
          { fact: "daysUntilRenewal", operator: "lessThanInclusive", value: 90 },
          { fact: "health", operator: "equal", value: "poor" },
        ],
      },
    });
    for (const def of Object.values(byId)) expect(def.enabled).toBe(true);
  });
});

describe("ruleVersion", () => {
  it("is 16 hex digits that do not depend on key order", () => {
    const a = rule("a", "x").definition;
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as unknown as RuleDefinition;
    expect(ruleVersion(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(ruleVersion(reordered)).toBe(ruleVersion(a));
  });

  it("changes when the definition changes", () => {
    const a = rule("a", "x").definition;
    expect(ruleVersion({ ...a, enabled: false })).not.toBe(ruleVersion(a));
  });
});

describe("loadRulesDir across files", () => {
  it("reports a duplicate id on the second file and keeps the first", async () => {
    const { rules, problems } = await loadRulesDir(fixture("duplicate-ids"));
    expect(problems).toEqual([
      expect.objectContaining({
        file: expect.stringMatching(/healthy\.json$/),
        pointer: "/id",
        message: expect.stringMatching(/"vip" is already used by "big\.json"/),
      }),
    ]);
    expect(rules.map((r) => r.file)).toEqual([expect.stringMatching(/big\.json$/)]);
  });

  it("reports the same tag assigned twice to one target, case-insensitively, but not across targets", async () => {
    const { problems } = await loadRulesDir(fixture("tag-conflict"));
    expect(problems).toEqual([
      expect.objectContaining({
        file: expect.stringMatching(/healthy-accounts\.json$/),
        pointer: "/tag",
        message: expect.stringMatching(/"big-accounts".*already assigns tag "vip" to accounts/),
      }),
    ]);
  });

  it("reports a cycle of tag tests once, with its rule ids", async () => {
    const { problems } = await loadRulesDir(fixture("cycle"));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      file: expect.stringMatching(/advocate\.json$/),
      pointer: "/conditions/all/0/value",
    });
    expect(problems[0].message).toContain("advocate -> champion -> advocate");
  });

  it("reports a rule that tests its own tag", () => {
    const { problems } = checkAcrossFiles([rule("loop", "loop", ["Loop"])]);
    expect(problems).toEqual([expect.objectContaining({ pointer: "/conditions/all/1/value" })]);
    expect(problems[0].message).toMatch(/tests its own tag/);
  });

  it("reports one problem for a group of overlapping cycles", () => {
    const rules = [rule("a", "a", ["b"]), rule("b", "b", ["c", "a"]), rule("c", "c", ["a"])];
    const { problems } = checkAcrossFiles(rules);
    expect(problems).toHaveLength(1);
    expect(problems[0].message).toContain("a -> b -> a");
    expect(problems[0].message).toContain("a, b, c");
  });

  it("ignores tag tests across targets when looking for cycles", () => {
    const rules = [rule("a", "a", ["b"], "user"), rule("b", "b", ["a"], "account")];
    expect(checkAcrossFiles(rules).problems).toEqual([]);
  });

  it("reports every file's problems together with their file names", async () => {
    const { rules, problems } = await loadRulesDir(fixture("invalid"));
    expect(rules.map((r) => r.definition.id)).toEqual(["fine"]);
    const lines = formatProblems(problems).split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/broken\.json:4:3: invalid JSON: missing "," before this key$/);
    expect(lines[1]).toMatch(
      /typos\.json:\/conditions\/all\/0\/fact: unknown fact "activeDay": .*\(did you mean "activeDays"\?\)$/,
    );
    expect(lines[2]).toMatch(
      /typos\.json:\/conditions\/all\/1\/fact: fact "daysSinceProvisioned" is not available/,
    );
  });

  it("reports a missing directory as a problem", async () => {
    const { rules, problems } = await loadRulesDir(fixture("no-such-dir"));
    expect(rules).toEqual([]);
    expect(problems[0].message).toMatch(/does not exist/);
  });
});

describe("mustWaitFor", () => {
  it("names, for each rule in dependency order, the earlier rules whose tag it tests", () => {
    const ordered = orderByDependencies([
      rule("a-consumer", "consumer", ["middle", "Producer"]),
      rule("m-middle", "middle", ["Producer"]),
      rule("z-producer", "producer"),
      rule("b-unrelated", "unrelated", ["manual tag"]),
      rule("c", "c", ["producer"], "account"),
    ]);
    expect(ordered.map((r) => r.definition.id)).toEqual([
      "b-unrelated",
      "c",
      "z-producer",
      "m-middle",
      "a-consumer",
    ]);
    expect(mustWaitFor(ordered)).toEqual([[], [], [], [2], [3, 2]]);
  });
});

describe("orderByDependencies", () => {
  it("puts producers of a tag before the rules that test it, and sorts the rest by id", () => {
    const rules = [
      rule("a-consumer", "consumer", ["middle"]),
      rule("m-middle", "middle", ["Producer"]),
      rule("z-producer", "producer"),
      rule("b-unrelated", "unrelated"),
    ];
    expect(orderByDependencies(rules).map((r) => r.definition.id)).toEqual([
      "b-unrelated",
      "z-producer",
      "m-middle",
      "a-consumer",
    ]);
  });

  it("is stable by id and ignores tag tests on the other target", () => {
    const rules = [rule("c", "c"), rule("a", "a", ["c"], "account"), rule("b", "b")];
    expect(orderByDependencies(rules).map((r) => r.definition.id)).toEqual(["a", "b", "c"]);
  });

  it("counts tests in exitConditions and shared conditions", () => {
    const consumer = rule("a", "a");
    consumer.definition.exitConditions = { all: [{ condition: "vip" }] };
    consumer.definition.sharedConditions = {
      vip: { all: [{ fact: "tags", operator: "contains", value: "z" }] },
    };
    expect(orderByDependencies([consumer, rule("z", "z")]).map((r) => r.definition.id)).toEqual(["z", "a"]);
  });
});

describe("formatProblems", () => {
  it("writes file, pointer, message and suggestion on one line", () => {
    expect(
      formatProblems([
        {
          file: "rules/x.json",
          pointer: "/conditions/all/0/fact",
          message: "unknown fact",
          suggestion: "activeDays",
        },
        { file: "rules/y.json", pointer: "", message: "invalid JSON", line: 2, column: 5 },
      ]),
    ).toBe(
      'rules/x.json:/conditions/all/0/fact: unknown fact (did you mean "activeDays"?)\nrules/y.json:2:5: invalid JSON',
    );
  });
});
