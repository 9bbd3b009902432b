import { sql } from "drizzle-orm";
import { type Fact, windowParam } from "./fact.ts";
import { activeDaysIn } from "./sql/activity-summary.ts";
import { inWindow } from "./time.ts";
import { numberWords, windowWords } from "./words.ts";

export const activeDays: Fact = {
  name: "activeDays",
  targets: ["user", "account"],
  params: { days: windowParam },
  valueType: "number",
  nullable: false,
  description: "distinct dates in the window with at least one event (an account's include its users')",
  value(e, params, today) {
    const active = new Set<string>();
    for (const a of e.activity) if (inWindow(a.day, today, Number(params.days))) active.add(a.day);
    return active.size;
  },
  sql: (q, params) => sql`coalesce(${activeDaysIn(q.summary(), q.today, Number(params.days))}, 0)`,
  words: numberWords({
    phrase: (q, one, p) => `${q} active ${one ? "day" : "days"} ${windowWords(p)}`,
    value: (n, p) =>
      Number(p.days) === 1
        ? n > 0
          ? "active today"
          : "not active today"
        : `active on ${n} of the last ${Number(p.days)} days`,
  }),
};
