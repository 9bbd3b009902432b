import { PgDialect } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import type { RuleDefinition } from "../../src/rules/types.ts";
import { compileRule } from "../../src/runs/compile.ts";

const rule = (target: "user" | "account", conditions: unknown, more: Partial<RuleDefinition> = {}) =>
  ({ id: "r", name: "R", tag: "r", enabled: true, target, conditions, ...more }) as RuleDefinition;
const leaf = (fact: string, operator: string, value: unknown, more: Record<string, unknown> = {}) => ({
  fact,
  operator,
  value,
  ...more,
});
const reason = (def: RuleDefinition) => {
  const compiled = compileRule(def);
  return compiled.ok ? undefined : compiled.reason;
};

describe("compileRule", () => {
  it("says why a rule has no SQL form", () => {
    const user = (...leaves: unknown[]) => reason(rule("user", { all: leaves }));
    expect(user(leaf("nope", "equal", 1))).toBe("unknown fact nope");
    expect(user(leaf("userCount", "equal", 1))).toBe("fact userCount does not apply to users");
    expect(user(leaf("activeDays", "equal", 1, { params: { days: 0 } }))).toBe(
      'fact activeDays needs an integer "days" param',
    );
    expect(user(leaf("eventCount", "equal", 1))).toBe('fact eventCount needs an integer "days" param');
    expect(user(leaf("daysSinceCreated", "equal", { fact: "x" }))).toBe(
      "a value that refers to another fact",
    );
    expect(user(leaf("attributes", "equal", 1))).toBe("fact attributes without a path");
    expect(user(leaf("attributes", "equal", 1, { path: "$..x" }))).toBe(
      "path $..x is outside the simple subset",
    );
    expect(user(leaf("daysSinceCreated", "equal", 1, { path: "$.x" }))).toBe(
      "a path on the non-object fact daysSinceCreated",
    );
    expect(user(leaf("daysSinceCreated", "weird", 1))).toBe("operator weird");
    expect(user(leaf("daysSinceCreated", "lessThan", "1"))).toBe(
      "lessThan with a value that is not a number",
    );
    expect(user(leaf("attributes", "lessThan", "1", { path: "$.a" }))).toBe(
      "lessThan with a value that is not a number",
    );
    expect(user({ condition: "missing" })).toBe("unknown condition reference missing");
    expect(user(leaf("daysSinceCreated", "weird", 1), leaf("nope", "equal", 1))).toBe("operator weird");
    let deep: unknown = leaf("daysSinceCreated", "lessThan", 3);
    for (let i = 0; i < 70; i++) deep = { not: deep };
    expect(user(deep)).toBe("conditions nested too deeply");
  });

  it("computes each fact once however many conditions read it, and binds every value", () => {
    const hostile = "x'); drop table users;--";
    const compiled = compileRule(
      rule("user", {
        any: [
          leaf("activeDays", "greaterThan", 3, { params: { days: 30 } }),
          leaf("activeDays", "lessThan", 9, { params: { days: 30 } }),
          leaf("attributes", "equal", hostile, { path: "$.plan" }),
        ],
      }),
    );
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    const statement = compiled.rule.evaluation(
      { type: "user", asOf: new Date("2026-03-31T12:00:00Z"), today: "2026-03-31", timezone: "UTC" },
      { source: "rule:r", tagId: 1, ruleId: "r" },
    );
    const query = new PgDialect().sqlToQuery(statement);
    expect(query.sql).toContain(" as f1");
    expect(query.sql).not.toContain(" as f2");
    expect(query.sql).not.toContain("drop table");
    expect(query.params).toContain(JSON.stringify(hostile));
  });
});
