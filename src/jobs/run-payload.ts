import { z } from "zod";
import { instant, ruleId, triggerSchema } from "./payload-fields.ts";

/** A rule's outcome as a job returns it (RunResult without samples). */
const runResultSchema = z.looseObject({
  rule: z.string(),
  tag: z.string(),
  target: z.enum(["user", "account"]),
  version: z.string(),
  status: z.enum(["applied", "held", "dry-run", "failed"]),
  evaluated: z.number(),
  matched: z.number(),
  added: z.number(),
  removed: z.number(),
  claimsBefore: z.number(),
  durationMs: z.number(),
  runId: z.number().optional(),
  error: z.string().optional(),
  partitions: z.number().optional(),
});

/**
 * Where a run job stands, written back into its payload by the worker, so a
 * job that is picked up again (after its partitions finished, a retry, or a
 * crash) goes on from there instead of starting over.
 */
const runProgressSchema = z.object({
  /** Unique per job; with the rule id it makes each rule's run idempotent. */
  runKey: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  /** The as-of instant fixed when the job first started. */
  asOf: instant,
  results: z.array(runResultSchema),
  /** A rule whose partitions were enqueued and whose changes still wait to be applied. */
  pending: z.object({ ruleId, runKey: z.string(), partitions: z.number().int().min(1) }).optional(),
  /**
   * Partition bounds by entity type, worked out once per job (its rules share
   * the as-of instant); the ranges cover every id whatever was added since.
   */
  bounds: z
    .object({ user: z.array(z.string().nullable()), account: z.array(z.string().nullable()) })
    .partial()
    .optional(),
});

/** The payload fields of both run kinds (run-rule, run-all). */
export const runFields = {
  /** Evaluate as of this instant; unset: when the job starts. */
  asOf: instant.optional(),
  trigger: triggerSchema.default("manual"),
  force: z.boolean().optional(),
  /** Evaluate every entity, even where a rule's last run today allows evaluating only what changed. */
  full: z.boolean().optional(),
  progress: runProgressSchema.optional(),
};

export type RunResultJson = z.infer<typeof runResultSchema>;
export type RunProgress = z.infer<typeof runProgressSchema>;

/** What a run or re-evaluation job returns: the summary an inline `run` prints. */
export interface RunJobResult {
  asOf: string;
  results: RunResultJson[];
}
