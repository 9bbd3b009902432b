import { type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import type { FactJoin, JoinScope } from "../../src/facts/fact.ts";
import { FactJoins } from "../../src/facts/sql/fact-joins.ts";

const dialect = new PgDialect();
const text = (q: SQL) => dialect.sqlToQuery(q).sql.replace(/\s+/g, " ").trim();
const scope: JoinScope = {
  type: "account",
  today: sql`${"2026-03-31"}::date`,
  asOf: "2026-03-31T12:00:00.000Z",
  only: () => sql``,
};
const join = (fact: string, alias: string): FactJoin => ({
  fact,
  alias,
  cte: () => sql.raw(`${alias} as (select 1)`),
  join: () => sql.raw(`left join ${alias} on true`),
});

describe("the joins of a compiled rule's facts", () => {
  it("aggregates each window length once, with one column per part", () => {
    const joins = new FactJoins();
    const w30 = joins.window(30);
    expect(w30.size).toBe(0);
    expect(text(w30.part("modules", sql`count(*)`, null))).toBe("w0.modules");
    expect(text(joins.window(30).part("modules", sql`count(*)`, null))).toBe("w0.modules");
    expect(joins.window(30).size).toBe(1);
    expect(text(joins.window(7).part("n", sql`count(*)`, null))).toBe("w1.n");
    const { ctes, joins: joined } = joins.render(scope);
    expect(ctes).toHaveLength(2);
    expect(joined.map(text)).toEqual([
      "left join w0 on w0.entity_id = e.id",
      "left join w1 on w1.entity_id = e.id",
    ]);
  });

  it("reads only the rows some part needs, unless a part needs them all", () => {
    const filtered = new FactJoins();
    filtered.window(30).part("a", sql`count(*)`, sql`d.module = 'x'`);
    filtered.window(30).part("b", sql`count(*)`, sql`d.module = 'y'`);
    expect(text(filtered.render(scope).ctes[0]!)).toContain("and (d.module = 'x' or d.module = 'y')");
    const all = new FactJoins();
    all.window(30).part("a", sql`count(*)`, sql`d.module = 'x'`);
    all.window(30).part("b", sql`count(*)`, null);
    expect(text(all.render(scope).ctes[0]!)).not.toContain("d.module = 'x' group");
    expect(text(all.render(scope).ctes[0]!)).not.toContain("and (d.module");
  });

  it("puts the windows, the summary and the facts' joins in one order, whatever order facts ask in", () => {
    const joins = new FactJoins();
    expect(text(joins.join(join("someNewFact", "nf")))).toBe("nf");
    joins.join(join("account", "acct"));
    joins.join(join("tags", "tg"));
    joins.join(join("tags", "tg"));
    joins.join(join("activeUsers", "au30"));
    joins.join(join("userCount", "uc"));
    joins.join(join("activeUsers", "au7"));
    expect(text(joins.summary())).toBe("sm");
    joins.window(7).part("n", sql`count(*)`, null);
    const { ctes, joins: joined } = joins.render(scope);
    expect(joined.map((j) => text(j).split(" ").slice(0, 3).join(" "))).toEqual([
      "left join w0",
      "left join activity_summary",
      "left join au30",
      "left join au7",
      "left join uc",
      "left join tg",
      "left join acct",
      "left join nf",
    ]);
    expect(ctes.map((c) => text(c).split(" ")[0])).toEqual(["w0", "au30", "au7", "uc", "tg", "acct", "nf"]);
  });
});
