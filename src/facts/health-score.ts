import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { numberWords } from "./words.ts";

export const healthScore: Fact = {
  name: "healthScore",
  targets: ["account"],
  params: {},
  valueType: "number",
  nullable: true,
  description: "the health score, 0 to 100",
  value: (e) => e.healthScore ?? null,
  sql: () => sql`e.health_score::float8`,
  words: numberWords({
    phrase: (q) => `health score ${q}`,
    value: (n) => `health score ${n}`,
    none: "no health score",
    some: "a health score",
    measure: true,
  }),
};
