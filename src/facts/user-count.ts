import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { count, numberWords } from "./words.ts";

export const userCount: Fact = {
  name: "userCount",
  targets: ["account"],
  params: {},
  valueType: "number",
  nullable: false,
  description: "users in the account",
  value: (e) => e.userCount ?? 0,
  sql(q) {
    const alias = q.join({
      fact: "userCount",
      alias: "uc",
      cte: ({
        asOf,
        only,
      }) => sql`uc as (select account_id, count(*)::int as n from users where created_at <= ${asOf}::timestamptz
        ${only(sql`account_id`)} group by account_id)`,
      join: () => sql`left join uc on uc.account_id = e.id`,
    });
    return sql`coalesce(${alias}.n, 0)`;
  },
  words: numberWords({
    phrase: (q, one) => `${q} ${one ? "user" : "users"}`,
    value: (n) => count(n, "user"),
  }),
};
