import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import { calendarDate } from "../../facts/time.ts";
import type { CompiledRule } from "../../runs/compile.ts";

export interface MatchingScope {
  type: EntityType;
  asOf: Date;
  timezone: string;
  /** A subquery of one column: the entity ids to evaluate. */
  only: SQL;
}

/*
 * The runs' compiled statement, with conditions made into a rule that holds no claims and has no
 * suppressions: its `want` is then exactly "the conditions match" for every entity that existed at
 * the as-of instant, the same answer the rule evaluator gives entity by entity.
 */
function evaluation(compiled: CompiledRule, scope: MatchingScope): SQL {
  return compiled.evaluation(
    {
      type: scope.type,
      asOf: scope.asOf,
      today: calendarDate(scope.asOf, scope.timezone),
      timezone: scope.timezone,
      only: scope.only,
    },
    { source: "segment", tagId: null, ruleId: "segment", noSuppressions: true },
  );
}

/** The ids in scope whose conditions match (in no particular order). */
export async function matchingIds(
  db: DbOrTx,
  compiled: CompiledRule,
  scope: MatchingScope,
): Promise<string[]> {
  const found = await rows<{ id: string }>(
    db,
    sql`select s.id from (${evaluation(compiled, scope)}) s where s.want`,
  );
  return found.map((r) => r.id);
}

/** How many entities in scope have matching conditions. */
export async function matchingCount(
  db: DbOrTx,
  compiled: CompiledRule,
  scope: MatchingScope,
): Promise<number> {
  const [row] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from (${evaluation(compiled, scope)}) s where s.want`,
  );
  return row?.n ?? 0;
}

/**
 * A list of ids as a subquery, one bind value however long. A text[] parameter, not JSON: the planner
 * knows how many elements an array has, and with the estimate of a JSON function (100 rows) it probes
 * the list once per entity, quadratic in the slice.
 */
export function idsSubquery(ids: readonly string[]): SQL {
  return sql`(select unnest(${sql.param(ids)}::text[]))`;
}
