import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { daysBetween } from "./time.ts";

export const daysUntilRenewal: Fact = {
  name: "daysUntilRenewal",
  targets: ["account"],
  params: {},
  valueType: "number",
  nullable: true,
  description: "renewal_date minus today; null without a renewal date",
  value: (e, _params, today) => (e.renewalDate ? daysBetween(e.renewalDate, today) : null),
  sql: (q) => sql`(e.renewal_date - ${q.today})`,
};
