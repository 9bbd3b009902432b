import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { ruleWide } from "./run-stats.ts";

export interface LastRun {
  id: number;
  at: string;
  status: string;
  trigger: string;
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  error: string | null;
}

/**
 * Each rule's last run over all its entities (dry runs aside), with when it
 * last applied one; rules that never ran are missing.
 */
export async function lastRuns(
  db: DbOrTx,
  ruleIds: readonly string[],
): Promise<(LastRun & { rule_id: string; last_success: string | null })[]> {
  if (ruleIds.length === 0) return [];
  return rows(
    db,
    sql`select r.rule_id, r.id::int as id, r.status, r.trigger, r.evaluated, r.matched, r.added, r.removed,
               r.error, to_char(coalesce(r.finished_at, r.started_at) at time zone 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at,
               (select to_char(max(coalesce(s.finished_at, s.started_at)) at time zone 'UTC',
                               'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                from rule_runs s where s.rule_id = r.rule_id and s.status = 'applied'
                  and ${ruleWide(sql`s`)}) as last_success
        from (select distinct on (rule_id) * from rule_runs
              where rule_id in ${ruleIds} and status <> 'dry-run' and ${ruleWide(sql`rule_runs`)}
              order by rule_id, id desc) r`,
  );
}
