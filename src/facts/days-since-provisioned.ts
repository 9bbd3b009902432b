import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { createdColumn } from "./sql/entities.ts";
import { daysBetween } from "./time.ts";
import { daysAgo, numberWords } from "./words.ts";

export const daysSinceProvisioned: Fact = {
  name: "daysSinceProvisioned",
  targets: ["account"],
  params: {},
  valueType: "number",
  nullable: false,
  description: "calendar days from the account's provisioned_at date to today",
  value: (e, _params, today) => daysBetween(today, e.createdDay),
  sql: (q) => sql`(${q.today} - (${createdColumn(q.type, "e")} at time zone ${q.timezone})::date)`,
  words: numberWords({
    phrase: (q, one) => `provisioned ${q} ${one ? "day" : "days"} ago`,
    value: (n) => `provisioned ${daysAgo(n)}`,
  }),
};
