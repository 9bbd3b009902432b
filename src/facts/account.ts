import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { pathWords } from "./words.ts";

export const account: Fact = {
  name: "account",
  targets: ["user"],
  params: {},
  valueType: "object",
  nullable: false,
  usesPath: true,
  description:
    "the user's account: id, name, contractStatus, health, healthScore, renewalDate, provisionedAt, attributes (use `path`)",
  value: (e) => e.account ?? null,
  sql(q) {
    const alias = q.join({
      fact: "account",
      alias: "acct",
      join: () => sql`left join lateral (
      select jsonb_build_object('id', a.id, 'name', a.name, 'contractStatus', a.contract_status,
        'health', a.health, 'healthScore', a.health_score, 'renewalDate', a.renewal_date,
        'provisionedAt', a.provisioned_at, 'attributes', a.attributes) as doc
      from accounts a where a.id = e.account_id) acct on true`,
    });
    return sql`${alias}.doc`;
  },
  words: pathWords("account"),
};
