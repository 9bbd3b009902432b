import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";

/** Rule runs recorded by every process (API, CLI, workers), by status. */
export async function ruleRunCounts(db: DbOrTx): Promise<{ status: string; n: number }[]> {
  return rows(db, sql`select status, count(*)::int as n from rule_runs group by status`);
}

/**
 * Runs of a rule over all its entities: a full run, or an incremental one
 * (scope "changed": every entity's tags as of its instant, only the changed
 * ones evaluated). Re-evaluations of a few entities (scope "entities") are not.
 */
export const ruleWide = (run: SQL) => sql`(${run}.details->>'scope') is distinct from 'entities'`;

/** Each rule's latest run over all its entities (dry runs aside): its duration and status. */
export async function lastRuleRuns(
  db: DbOrTx,
): Promise<{ rule_id: string; status: string; seconds: number; finished: number }[]> {
  return rows(
    db,
    sql`select distinct on (rule_id) rule_id, status, coalesce(duration_ms, 0) / 1000.0 as seconds,
          extract(epoch from coalesce(finished_at, started_at))::float8 as finished
        from rule_runs r where r.status <> 'dry-run' and ${ruleWide(sql`r`)} order by rule_id, id desc`,
  );
}

/** Claims held now, by kind of source (manual, bulk, file, rule). */
export async function claimCountsByKind(db: DbOrTx): Promise<{ kind: string; n: number }[]> {
  return rows(
    db,
    sql`select case when source like 'rule:%' then 'rule' else source end as kind, count(*)::int as n
        from claims group by 1`,
  );
}
