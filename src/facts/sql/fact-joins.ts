import { type SQL, sql } from "drizzle-orm";
import type { FactJoin, JoinScope, RollupWindow } from "../fact.ts";

/**
 * Facts of a compiled rule that read more than the entity's row do it
 * through joins, gathered here while the rule's conditions compile: one
 * aggregate over the rollups per window length (all the facts over that
 * window share it), the activity summary, and the joins facts add themselves.
 */

/**
 * The facts whose joins come first, in this order (the statement's text, and
 * with it its plan, stays the same for the same rule); the joins of facts not
 * listed follow in the order they were added.
 */
const joinOrder = ["activeUsers", "userCount", "tags", "account"];

const ident = (s: string) => sql.raw(s);

interface Window {
  alias: string;
  parts: Map<string, SQL>;
  /** The rows each part reads: a condition on the row, or null for every row. */
  rows: (SQL | null)[];
}

/**
 * The window's rows that some part reads, when no part reads them all: the
 * others are left out before the aggregate (an entity with none left gets no
 * row, as an aggregate of no rows it would get a null, and both are read as 0
 * or none), which makes a rule on one activity's events much cheaper than
 * aggregating every row of the window.
 */
function windowRows(w: Window): SQL {
  if (w.rows.some((r) => r === null)) return sql``;
  return sql`and (${sql.join(w.rows as SQL[], sql` or `)})`;
}

export class FactJoins {
  private readonly windows = new Map<number, Window>();
  private readonly joins = new Map<string, FactJoin>();
  private summaryJoined = false;

  window(days: number): RollupWindow {
    let w = this.windows.get(days);
    if (!w) {
      w = { alias: `w${this.windows.size}`, parts: new Map(), rows: [] };
      this.windows.set(days, w);
    }
    const window = w;
    return {
      get size() {
        return window.parts.size;
      },
      part(name, agg, rows) {
        if (!window.parts.has(name)) {
          window.parts.set(name, agg);
          window.rows.push(rows);
        }
        return sql`${ident(window.alias)}.${ident(name)}`;
      },
    };
  }

  summary(): SQL {
    this.summaryJoined = true;
    return sql`sm`;
  }

  join(join: FactJoin): SQL {
    if (!this.joins.has(join.alias)) this.joins.set(join.alias, join);
    return ident(join.alias);
  }

  /** The CTEs and the joins to the entity row `e` that the facts read, in the order the statement has them. */
  render(scope: JoinScope): { ctes: SQL[]; joins: SQL[] } {
    const { type, today, only } = scope;
    const ctes: SQL[] = [];
    const joins: SQL[] = [];
    for (const [days, w] of this.windows) {
      const parts = [...w.parts].map(([name, expr]) => sql`${expr} as ${ident(name)}`);
      ctes.push(sql`${ident(w.alias)} as (
      select d.entity_id, ${sql.join(parts, sql`, `)}
      from activity_daily d
      where d.entity_type = ${type} and d.day > ${today} - ${days}::int and d.day <= ${today}
        ${windowRows(w)} ${only(sql`d.entity_id`)}
      group by d.entity_id)`);
      joins.push(sql`left join ${ident(w.alias)} on ${ident(w.alias)}.entity_id = e.id`);
    }
    if (this.summaryJoined) {
      joins.push(
        sql`left join activity_summary sm on sm.entity_type = ${type} and sm.entity_id = e.id ${only(sql`sm.entity_id`)}`,
      );
    }
    const rank = (j: FactJoin) => {
      const i = joinOrder.indexOf(j.fact);
      return i < 0 ? joinOrder.length : i;
    };
    for (const j of [...this.joins.values()].sort((a, b) => rank(a) - rank(b))) {
      if (j.cte) ctes.push(j.cte(scope));
      joins.push(j.join(scope));
    }
    return { ctes, joins };
  }
}
