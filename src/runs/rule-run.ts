import type { DbOrTx, Tx } from "../db/client.ts";
import { transactionWithOutcome } from "../db/transaction.ts";
import type { LoadedRule } from "../rules/types.ts";
import { recordedRun, recordRun } from "./record-run.ts";
import type { RunPolicy, RunScope } from "./run-options.ts";
import { failedResult, type RunResult } from "./run-result.ts";
import { analyzeClaims, evaluationSettings, lockRule } from "./sql/run-session.ts";

/** The guard judges a share of removals only once a rule has at least this many claims (default). */
const DEFAULT_GUARD_MIN_CLAIMS = 5;

/**
 * Why the mass-removal guard holds a run, or undefined when it may apply: it
 * would remove more than the allowed share of the rule's claims (a rule's own
 * `removalGuard` wins over the global one), which is what a broken data feed
 * looks like. `force` lets it through.
 */
export function guardHolds(
  loaded: LoadedRule,
  policy: Pick<RunPolicy, "force" | "removalGuard" | "removalGuardMinClaims">,
  r: { claimsBefore: number; removed: number },
): string | undefined {
  const guard = loaded.definition.removalGuard ?? policy.removalGuard;
  const minClaims = policy.removalGuardMinClaims ?? DEFAULT_GUARD_MIN_CLAIMS;
  if (policy.force || r.claimsBefore < minClaims || r.removed <= 0 || r.removed <= guard * r.claimsBefore) {
    return undefined;
  }
  return `would remove ${r.removed} of ${r.claimsBefore} claims (more than ${Math.round(guard * 100)} %); run with --force to apply`;
}

/**
 * One rule's run (DESIGN section 1): one transaction, serialized per rule by
 * its advisory lock, with the session settings of a large evaluation. A run
 * already recorded under the same key is returned as it was and nothing runs
 * again. `body` reconciles and says how it went; only an applied outcome
 * commits, so a dry run, a run the guard holds and a failure keep nothing, and
 * a held or failed run is then recorded on its own (`afterRecorded` follows).
 */
export async function runOnce(
  db: DbOrTx,
  loaded: LoadedRule,
  opts: Pick<RunPolicy, "trigger" | "asOf" | "force"> & RunScope,
  base: RunResult,
  started: number,
  body: (tx: Tx) => Promise<RunResult>,
  afterRecorded?: (result: RunResult) => Promise<void>,
): Promise<RunResult> {
  let outcome: { result: RunResult; replayed: boolean };
  try {
    outcome = await transactionWithOutcome<{ result: RunResult; replayed: boolean }>(db, async (tx) => {
      await lockRule(tx, loaded.definition.id);
      await evaluationSettings(tx);
      const recorded = opts.runKey === undefined ? undefined : await recordedRun(tx, loaded, opts.runKey);
      if (recorded) return { value: { result: recorded, replayed: true }, commit: false };
      const result = await body(tx);
      return { value: { result, replayed: false }, commit: result.status === "applied" };
    });
  } catch (err) {
    outcome = { result: failedResult(base, err), replayed: false };
  }
  const { result } = outcome;
  if (outcome.replayed) return result;
  if (result.status === "applied" && result.added + result.removed >= ANALYZE_AFTER_CHANGES) {
    await analyzeClaims(db);
  }
  result.durationMs = Date.now() - started;
  if (result.status === "held" || result.status === "failed") {
    result.runId = await recordRun(db, loaded, opts, result);
    await afterRecorded?.(result);
  }
  return result;
}

const ANALYZE_AFTER_CHANGES = 10_000;
