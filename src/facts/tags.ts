import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { type FactWords, labelWords, show } from "./words.ts";

// Tag names are unique case-insensitively, so rules compare them in lower case.
export const tags: Fact = {
  name: "tags",
  targets: ["user", "account"],
  params: {},
  valueType: "stringArray",
  nullable: false,
  description: "names of the tags the entity has before this run",
  value: (e) => [...new Set(e.tags.map((t) => t.toLowerCase()))].sort(),
  sql(q) {
    const alias = q.join({
      fact: "tags",
      alias: "tg",
      cte: ({ type, only }) => sql`tg as (
      select c.entity_id, array_agg(distinct lower(tt.name)) as names
      from claims c join tags tt on tt.id = c.tag_id where c.entity_type = ${type} ${only(sql`c.entity_id`)}
      group by c.entity_id)`,
      join: () => sql`left join tg on tg.entity_id = e.id`,
    });
    return sql`coalesce(${alias}.names, '{}'::text[])`;
  },
  words: {
    value: (v) =>
      Array.isArray(v) && v.length > 0 ? `has ${v.length === 1 ? "tag" : "tags"} ${show(v)}` : "has no tags",
    condition(operator, value, params) {
      if (operator === "contains") return `has tag ${JSON.stringify(show(value))}`;
      if (operator === "doesNotContain") return `does not have tag ${JSON.stringify(show(value))}`;
      return labelWords("tags", "no tags").condition(operator, value, params);
    },
  } satisfies FactWords,
};
