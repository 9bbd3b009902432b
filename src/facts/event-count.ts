import { type SQL, sql } from "drizzle-orm";
import { type Fact, windowParam } from "./fact.ts";
import { inWindow } from "./time.ts";

const given = (v: unknown) => v !== undefined && v !== null && v !== "";

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
};
