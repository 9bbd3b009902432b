import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { factNames, operatorNames } from "../../src/facts/catalog.ts";
import { ruleJsonSchema, ruleJsonSchemaText } from "../../src/rules/schema.ts";

const committedPath = new URL("../../rules/rule.schema.json", import.meta.url);

describe("rules/rule.schema.json", () => {
  it("is what the rule format generates now", async () => {
    const committed = await readFile(committedPath, "utf8");
    expect(
      committed === ruleJsonSchemaText(),
      "rules/rule.schema.json is stale: run `npm run rules:schema` and commit the result",
    ).toBe(true);
  });

  it("lets editors complete facts, operators and targets", () => {
    const schema = ruleJsonSchema() as {
      properties: Record<string, { enum?: string[] }>;
      definitions: Record<string, { properties: Record<string, { enum?: string[] }>; allOf: unknown[] }>;
    };
    expect(schema.properties.target.enum).toEqual(["user", "account"]);
    const leaf = schema.definitions.factCondition;
    expect(leaf.properties.fact.enum).toEqual(factNames);
    expect(leaf.properties.operator.enum).toEqual(operatorNames);
    expect(leaf.allOf.length).toBeGreaterThan(factNames.length);
  });
});
