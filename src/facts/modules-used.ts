import { sql } from "drizzle-orm";
import { type Fact, windowParam } from "./fact.ts";
import { inWindow } from "./time.ts";
import { type FactWords, labelWords, show, windowWords } from "./words.ts";

export const modulesUsed: Fact = {
  name: "modulesUsed",
  targets: ["user", "account"],
  params: { days: windowParam },
  valueType: "stringArray",
  nullable: false,
  description: "the distinct modules used in the window",
  value(e, params, today) {
    const modules = new Set<string>();
    for (const a of e.activity)
      if (a.module !== "" && inWindow(a.day, today, Number(params.days))) modules.add(a.module);
    return [...modules].sort();
  },
  sql(q, params) {
    const rows = sql`d.module <> ''`;
    const agg = sql`array_agg(distinct d.module order by d.module) filter (where ${rows})`;
    return sql`coalesce(${q.window(Number(params.days)).part("modules", agg, rows)}, '{}'::text[])`;
  },
  words: {
    value: (v, p) =>
      Array.isArray(v) && v.length > 0
        ? `used ${v.length === 1 ? "module" : "modules"} ${show(v)} ${windowWords(p)}`
        : `used no module ${windowWords(p)}`,
    condition(operator, value, params) {
      if (operator === "contains") return `used module ${show(value)} ${windowWords(params)}`;
      if (operator === "doesNotContain") return `did not use module ${show(value)} ${windowWords(params)}`;
      return `${labelWords("modules used", "no module used").condition(operator, value, params)} ${windowWords(params)}`;
    },
  } satisfies FactWords,
};
