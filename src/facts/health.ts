import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { labelWords } from "./words.ts";

export const health: Fact = {
  name: "health",
  targets: ["account"],
  params: {},
  valueType: "string",
  nullable: true,
  enumValues: ["good", "average", "poor"],
  description: "the health label, given or derived from the score (poor < 40 <= average < 70 <= good)",
  value: (e) => e.health ?? null,
  sql: () => sql`e.health`,
  words: labelWords("health", "no health label"),
};
