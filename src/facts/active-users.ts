import { sql } from "drizzle-orm";
import { type Fact, windowParam } from "./fact.ts";
import { activeDaysIn } from "./sql/activity-summary.ts";
import { inWindow } from "./time.ts";
import { count, numberWords, windowWords } from "./words.ts";

export const activeUsers: Fact = {
  name: "activeUsers",
  targets: ["account"],
  params: { days: windowParam },
  valueType: "number",
  nullable: false,
  description: "users of the account with at least one active date in the window",
  value: (e, params, today) =>
    (e.activeUserDays ?? []).filter((d) => inWindow(d, today, Number(params.days))).length,
  sql(q, params) {
    const days = Number(params.days);
    const alias = q.join({
      fact: "activeUsers",
      alias: `au${days}`,
      // A user active in the window has a summary whose span reaches into it and a set bit there.
      cte: ({ today, asOf, only }) => sql`${sql.raw(`au${days}`)} as (
      select u.account_id, count(*)::int as n
      from activity_summary sm join users u on u.id = sm.entity_id
      where sm.entity_type = 'user' and sm.last_day > ${today} - ${days}::int
        and sm.first_day <= ${today} and u.created_at <= ${asOf}::timestamptz
        and ${activeDaysIn(sql`sm`, today, days)} > 0 ${only(sql`u.account_id`)}
      group by u.account_id)`,
      join: () => sql`left join ${sql.raw(`au${days}`)} on ${sql.raw(`au${days}`)}.account_id = e.id`,
    });
    return sql`coalesce(${alias}.n, 0)`;
  },
  words: numberWords({
    phrase: (q, one, p) => `${q} active ${one ? "user" : "users"} ${windowWords(p)}`,
    value: (n, p) => `${count(n, "active user")} ${windowWords(p)}`,
  }),
};
