import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../client.ts";

/** Rule runs recorded by every process (API, CLI, workers), by status. */
export async function ruleRunCounts(db: DbOrTx): Promise<{ status: string; n: number }[]> {
  return rows(db, sql`select status, count(*)::int as n from rule_runs group by status`);
}

/** Each rule's latest finished run: its duration and status. */
export async function lastRuleRuns(
  db: DbOrTx,
): Promise<{ rule_id: string; status: string; seconds: number; finished: number }[]> {
  return rows(
    db,
    sql`select distinct on (rule_id) rule_id, status, coalesce(duration_ms, 0) / 1000.0 as seconds,
          extract(epoch from coalesce(finished_at, started_at))::float8 as finished
        from rule_runs order by rule_id, id desc`,
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
