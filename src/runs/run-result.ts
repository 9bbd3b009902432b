import { isConnectionLoss } from "../db/connection-errors.ts";
import type { LoadedRule } from "../rules/types.ts";
import type { Explanation } from "./explanation.ts";

export type RunStatus = "applied" | "held" | "dry-run" | "failed";

export interface SampleChange {
  entityId: string;
  explanation: Explanation;
}

/** A rule run's outcome: a value whatever happened (DESIGN: expected outcomes are values, not exceptions). */
export interface RunResult {
  rule: string;
  /** The rule's name, as its file gives it (absent from results recorded before names were kept). */
  name?: string;
  tag: string;
  target: "user" | "account";
  version: string;
  status: RunStatus;
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  /** Claims the rule held before the run (on the given entities only, for a scoped run). */
  claimsBefore: number;
  runId?: number;
  durationMs: number;
  error?: string;
  /** An incremental run: the run it started from (only what changed since was evaluated). */
  incrementalSince?: number;
  /** How many partition jobs shared the run (partitioned runs only). */
  partitions?: number;
  /** On a failed run: whether running it again may succeed (the database was unreachable...). */
  retriable?: boolean;
  /** On a failed run: the database could not be reached at all (a restart, a failover). */
  unavailable?: boolean;
  samples?: { added: SampleChange[]; removed: SampleChange[] };
  /** On a dry run: why the real run would be held by the removal guard (it would not be applied). */
  wouldBeHeld?: string;
}

/** A run result with every count at zero, before anything is evaluated. */
export function emptyResult(loaded: LoadedRule): RunResult {
  const def = loaded.definition;
  return {
    rule: def.id,
    name: def.name,
    tag: def.tag,
    target: def.target,
    version: loaded.version,
    status: "applied",
    evaluated: 0,
    matched: 0,
    added: 0,
    removed: 0,
    claimsBefore: 0,
    durationMs: 0,
  };
}

/** A run that failed with this error: nothing it did was kept. */
export function failedResult(base: RunResult, err: unknown): RunResult {
  const unavailable = isConnectionLoss(err);
  return {
    ...base,
    status: "failed",
    error: err instanceof Error ? err.message : String(err),
    retriable: unavailable || isRetriableDatabaseError(err),
    ...(unavailable ? { unavailable } : {}),
  };
}

/**
 * Errors worth retrying: the connection went away, the server is shutting
 * down or overloaded, or the transaction lost a deadlock or serialization race.
 */
function isRetriableDatabaseError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = String((e as { code?: unknown }).code ?? "");
    if (/^(08|53|57P)/.test(code) || code === "40001" || code === "40P01") return true;
    if (
      ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "CONNECTION_CLOSED", "CONNECTION_ENDED"].includes(
        code,
      )
    )
      return true;
  }
  return false;
}
