import { sql } from "drizzle-orm";
import { type DbOrTx, rows, type Tx } from "../../db/client.ts";
import type { RuleDefinition } from "../../rules/types.ts";

/** The rule_runs row of a run (and the rule_versions row of its version). */

export interface RunRow {
  ruleId: string;
  version: string;
  /** The definition of that version, kept once per version. */
  definition: RuleDefinition;
  trigger: string;
  asOf: Date;
  status: string;
  forced: boolean;
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  durationMs: number;
  error: string | null;
  details: Record<string, unknown>;
}

/** Records a finished run (and its rule version, the first time); returns the run's id. */
export async function insertRun(db: DbOrTx, r: RunRow): Promise<number> {
  const [row] = await rows<{ id: number }>(
    db,
    // The version is kept with the run: the compact explanations of its tag events are read against it.
    sql`with version as (
          insert into rule_versions (rule_id, version, definition)
          values (${r.ruleId}, ${r.version}, ${JSON.stringify(r.definition)}::jsonb)
          on conflict do nothing)
        insert into rule_runs (rule_id, rule_version, trigger, as_of, status, forced, evaluated, matched, added, removed,
                               finished_at, duration_ms, error, details)
        values (${r.ruleId}, ${r.version}, ${r.trigger}, ${r.asOf.toISOString()}::timestamptz,
                ${r.status}, ${r.forced}, ${r.evaluated}, ${r.matched}, ${r.added}, ${r.removed},
                now(), ${r.durationMs}, ${r.error}, ${JSON.stringify(r.details)}::jsonb)
        returning id::int as id`,
  );
  return row!.id;
}

/** A run's counts and details once it applied its changes in the statement that evaluated. */
export async function updateRunCounts(
  tx: Tx,
  runId: number,
  r: { evaluated: number; matched: number; added: number; removed: number; durationMs: number },
  details: Record<string, unknown>,
): Promise<void> {
  await tx.execute(sql`
      update rule_runs set evaluated = ${r.evaluated}, matched = ${r.matched}, added = ${r.added},
        removed = ${r.removed}, finished_at = now(), duration_ms = ${r.durationMs},
        details = ${JSON.stringify(details)}::jsonb
      where id = ${runId}`);
}

/** When a run finished and how long it took, once its changes are written. */
export async function finishRun(tx: Tx, runId: number, durationMs: number): Promise<void> {
  await tx.execute(
    sql`update rule_runs set finished_at = now(), duration_ms = ${durationMs} where id = ${runId}`,
  );
}

export interface RecordedRunRow {
  id: number;
  rule_version: string;
  status: "applied" | "held";
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  duration_ms: number | null;
  error: string | null;
  claims_before: number | null;
}

/** The latest run of the rule recorded under this key as applied or held, if any. */
export async function findRecordedRun(
  tx: Tx,
  ruleId: string,
  runKey: string,
): Promise<RecordedRunRow | undefined> {
  const [row] = await rows<RecordedRunRow>(
    tx,
    sql`select id::int as id, rule_version, status, evaluated, matched, added, removed, duration_ms, error,
               (details->>'claimsBefore')::int as claims_before
        from rule_runs
        where rule_id = ${ruleId} and details->>'runKey' = ${runKey} and status in ('applied', 'held')
        order by id desc limit 1`,
  );
  return row;
}
