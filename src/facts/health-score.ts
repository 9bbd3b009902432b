import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";

export const healthScore: Fact = {
  name: "healthScore",
  targets: ["account"],
  params: {},
  valueType: "number",
  nullable: true,
  description: "the health score, 0 to 100",
  value: (e) => e.healthScore ?? null,
  sql: () => sql`e.health_score::float8`,
};
