import type { DbOrTx, Tx } from "../db/client.ts";
import type { LoadedRule } from "../rules/types.ts";
import type { RunPolicy, RunScope } from "./run-options.ts";
import type { RunResult } from "./run-result.ts";
import { findRecordedRun, insertRun } from "./sql/rule-runs.ts";

/** What a rule run records besides its counts: how scoped it was and the key that makes it idempotent. */
export function runDetails(scope: RunScope, r: RunResult): Record<string, unknown> {
  return {
    claimsBefore: r.claimsBefore,
    ...(scope.entityIds === undefined ? {} : { scope: "entities", entities: scope.entityIds.length }),
    ...(scope.runKey === undefined ? {} : { runKey: scope.runKey }),
    ...(r.partitions === undefined ? {} : { partitions: r.partitions }),
    ...(r.incrementalSince === undefined ? {} : { scope: "changed", since: r.incrementalSince }),
  };
}

/** Records a run with its outcome; returns its id. */
export async function recordRun(
  db: DbOrTx,
  loaded: LoadedRule,
  opts: Pick<RunPolicy, "trigger" | "asOf" | "force"> & RunScope,
  r: RunResult,
  /** More details: an applied run over every entity records its snapshot as the next run's `baseline`. */
  extra?: Record<string, unknown>,
): Promise<number> {
  return insertRun(db, {
    ruleId: loaded.definition.id,
    version: loaded.version,
    definition: loaded.definition,
    trigger: opts.trigger,
    asOf: opts.asOf,
    status: r.status,
    forced: opts.force ?? false,
    evaluated: r.evaluated,
    matched: r.matched,
    added: r.added,
    removed: r.removed,
    durationMs: r.durationMs,
    error: r.error ?? null,
    details: { ...runDetails(opts, r), ...extra },
  });
}

/** The result of a run already recorded under this key as applied or held, if any. */
export async function recordedRun(
  tx: Tx,
  loaded: LoadedRule,
  runKey: string,
): Promise<RunResult | undefined> {
  const def = loaded.definition;
  const row = await findRecordedRun(tx, def.id, runKey);
  if (!row) return undefined;
  return {
    rule: def.id,
    name: def.name,
    tag: def.tag,
    target: def.target,
    version: row.rule_version,
    status: row.status,
    evaluated: row.evaluated,
    matched: row.matched,
    added: row.added,
    removed: row.removed,
    claimsBefore: row.claims_before ?? 0,
    runId: row.id,
    durationMs: row.duration_ms ?? 0,
    ...(row.error ? { error: row.error } : {}),
  };
}
