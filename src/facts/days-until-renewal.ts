import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { daysBetween } from "./time.ts";
import { count, numberWords } from "./words.ts";

export const daysUntilRenewal: Fact = {
  name: "daysUntilRenewal",
  targets: ["account"],
  params: {},
  valueType: "number",
  nullable: true,
  description: "renewal_date minus today; null without a renewal date",
  value: (e, _params, today) => (e.renewalDate ? daysBetween(e.renewalDate, today) : null),
  sql: (q) => sql`(e.renewal_date - ${q.today})`,
  words: numberWords({
    // "at least 0 days" reads as what it means: the renewal has not passed.
    phrase: (q, one) =>
      q === "at least 0" ? "renewal today or later" : `renewal in ${q} ${one ? "day" : "days"}`,
    value: (n) =>
      n === 0 ? "renewal today" : n > 0 ? `renewal in ${count(n, "day")}` : `renewal ${count(-n, "day")} ago`,
    none: "no renewal date",
    some: "a renewal date",
  }),
};
