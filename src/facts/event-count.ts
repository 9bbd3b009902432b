import { type SQL, sql } from "drizzle-orm";
import { type Fact, windowParam } from "./fact.ts";
import { inWindow } from "./time.ts";
import { numberWords, windowWords } from "./words.ts";

const given = (v: unknown) => v !== undefined && v !== null && v !== "";

/** "report.exported events in module reports", "event" for one. */
function eventsOf(params: Record<string, unknown>, one: boolean): string {
  const activity = given(params.activity) ? `${String(params.activity)} ` : "";
  const module = given(params.module) ? ` in module ${String(params.module)}` : "";
  return `${activity}${one ? "event" : "events"}${module}`;
}

export const eventCount: Fact = {
  name: "eventCount",
  targets: ["user", "account"],
  params: {
    days: windowParam,
    activity: { type: "string", required: false, description: "only events of this activity" },
    module: { type: "string", required: false, description: "only events of this module" },
  },
  valueType: "number",
  nullable: false,
  description: "sum of event counts in the window, optionally for one activity and/or module",
  value(e, params, today) {
    let sum = 0;
    for (const a of e.activity) {
      if (!inWindow(a.day, today, Number(params.days))) continue;
      if (params.activity !== undefined && a.activity !== params.activity) continue;
      if (params.module !== undefined && a.module !== params.module) continue;
      sum += a.count;
    }
    return sum;
  },
  sql(q, params) {
    const filters: SQL[] = [];
    if (given(params.activity)) filters.push(sql`d.activity = ${String(params.activity)}`);
    if (given(params.module)) filters.push(sql`d.module = ${String(params.module)}`);
    const rows = filters.length === 0 ? null : sql`(${sql.join(filters, sql` and `)})`;
    const agg =
      rows === null ? sql`sum(d.count)::float8` : sql`(sum(d.count) filter (where ${rows}))::float8`;
    const window = q.window(Number(params.days));
    return sql`coalesce(${window.part(`ec_${window.size}_${q.column}`, agg, rows)}, 0)`;
  },
  words: numberWords({
    phrase: (q, one, p) => `${q} ${eventsOf(p, one)} ${windowWords(p)}`,
    value: (n, p) => `${n} ${eventsOf(p, n === 1)} ${windowWords(p)}`,
  }),
};
