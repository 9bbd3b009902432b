/** What a run is asked to do: its policy, its scope and its hooks, each read only by what needs it. */
import type { LoadedRule } from "../rules/types.ts";
import type { DiffChange } from "./diff.ts";

export type RunTrigger = "manual" | "schedule" | "api" | "event";

/** How a run evaluates and what it may change. */
export interface RunPolicy {
  asOf: Date;
  timezone: string;
  trigger: RunTrigger;
  dryRun?: boolean;
  force?: boolean;
  /** Global share of a rule's claims one run may remove (0..1); a rule's own `removalGuard` wins. */
  removalGuard: number;
  /** The guard judges a share only once a rule has at least this many claims. */
  removalGuardMinClaims?: number;
  /** How many sample entities a dry run shows each way. */
  samples?: number;
  /**
   * How rules are evaluated: "compiled" (the default) runs a rule as one SQL
   * statement when it compiles and falls back to json-rules-engine otherwise;
   * "reference" always uses json-rules-engine per entity.
   */
  evaluation?: "compiled" | "reference";
  /**
   * Whether a run of every entity may re-evaluate only the entities that
   * changed since the rule's last run, when that run allows it (same rule
   * version, same calendar day, not a later instant; src/runs/incremental.ts).
   * Default true; false evaluates every entity.
   */
  incremental?: boolean;
}

/** Which entities a run covers, how many at a time, and what identifies it. */
export interface RunScope {
  /**
   * Evaluate only these entities (event-driven re-evaluation). Claims of
   * other entities are untouched, and the mass-removal guard does not apply.
   */
  entityIds?: string[];
  /**
   * Makes the run idempotent across retries: when a run with this key is
   * already recorded as applied or held, that result is returned and nothing
   * runs again (a queue job re-run after its worker died uses its job's key).
   */
  runKey?: string;
  /** Entities the json-rules-engine path loads and evaluates at a time. */
  batchSize?: number;
}

/** Where a run reports while it works. */
export interface RunHooks {
  onProgress?: (done: number, total: number) => void;
  /** Where a line saying why a rule fell back to the reference path goes (default stderr). */
  log?: (line: string) => void;
  /**
   * A dry run's every change, in pages, before its transaction rolls back
   * (a diff file, a preview). Called once per rule, even when nothing would
   * change; the run waits for it, so it may take its time (backpressure).
   */
  onDiff?: (rule: LoadedRule, pages: AsyncIterable<DiffChange[]>) => Promise<void>;
}

export interface RunOptions extends RunPolicy, RunScope, RunHooks {}

/** A run's log line, to `log` or else stderr. */
export function logLine(hooks: RunHooks, line: string): void {
  (hooks.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
}
