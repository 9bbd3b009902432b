import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { lastActiveDay } from "./sql/activity-summary.ts";
import { daysBetween } from "./time.ts";
import { daysAgo, numberWords } from "./words.ts";

export const daysSinceLastActive: Fact = {
  name: "daysSinceLastActive",
  targets: ["user", "account"],
  params: {},
  valueType: "number",
  nullable: true,
  description: "today minus the last active date on or before today; null when never active",
  value: (e, _params, today) => (e.lastActiveDay === null ? null : daysBetween(today, e.lastActiveDay)),
  sql: (q) => sql`(${q.today} - ${lastActiveDay(q.summary(), q.today)})`,
  words: numberWords({
    phrase: (q, one) => `last active ${q} ${one ? "day" : "days"} ago`,
    value: (n) => `last active ${daysAgo(n)}`,
    none: "never active",
    some: "active at some time",
  }),
};
