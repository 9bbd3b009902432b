import { sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client.ts";
import { preparedRows as rows } from "../../db/prepared.ts";

export interface RecentRun {
  id: number;
  ruleId: string;
  status: string;
  trigger: string;
  forced: boolean;
  asOf: string;
  startedAt: string;
  durationMs: number | null;
  evaluated: number;
  added: number;
  removed: number;
  /** Why a run failed, or why the removal guard held it. */
  error: string | null;
}

const iso = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

/** The newest runs (of one status when given), newest first, by the primary key's order. */
export async function recentRuns(
  db: DbOrTx,
  p: { status?: string; ruleId?: string; limit: number },
): Promise<RecentRun[]> {
  return rows(
    db,
    sql`select id::int as id, rule_id as "ruleId", status, trigger, forced, ${iso("as_of")} as "asOf",
          ${iso("started_at")} as "startedAt", duration_ms as "durationMs", evaluated, added, removed, error
        from rule_runs
        where (${p.status ?? null}::text is null or status = ${p.status ?? null})
          and (${p.ruleId ?? null}::text is null or rule_id = ${p.ruleId ?? null})
        order by id desc limit ${p.limit}`,
  );
}
