/**
 * Job payloads. A worker treats `job.data` as unknown and parses it with
 * these schemas first. Old jobs may still wait in Redis when a new version
 * starts: change a payload only by adding optional fields.
 */
import { z } from "zod";
import { parseInstant } from "../facts/time.ts";

export const triggerSchema = z.enum(["manual", "schedule", "api", "event"]);

const instant = z
  .string()
  .refine((v) => parseInstant(v) !== undefined, { message: "must be an ISO-8601 instant" });

const ruleId = z.string().min(1).max(200);
const entityId = z.string().min(1).max(1000);

/** Most entity ids one re-evaluation job carries; an import touching more enqueues several jobs. */
export const MAX_ENTITY_BATCH = 500;

/** A rule's outcome as a job returns it (RunResult without samples). */
export const runResultSchema = z.looseObject({
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
export const runProgressSchema = z.object({
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

const runCommon = {
  /** Evaluate as of this instant; unset: when the job starts. */
  asOf: instant.optional(),
  trigger: triggerSchema.default("manual"),
  force: z.boolean().optional(),
  /** Evaluate every entity, even where a rule's last run today allows evaluating only what changed. */
  full: z.boolean().optional(),
  progress: runProgressSchema.optional(),
};

export const runRulePayload = z.object({ ruleId, ...runCommon });

export const runAllPayload = z.object({
  /** Only these rules (in dependency order); unset: every enabled rule. */
  ruleIds: z.array(ruleId).min(1).optional(),
  ...runCommon,
});

export const evaluatePartitionPayload = z.object({
  runKey: z.string().min(1),
  ruleId,
  ruleVersion: z.string().min(1),
  asOf: instant,
  trigger: triggerSchema,
  partition: z.number().int().min(0),
  /** Exclusive lower bound of the key range; null from the first entity. */
  after: entityId.nullable(),
  /** Inclusive upper bound; null to the last entity. */
  through: entityId.nullable(),
});

export const evaluateEntitiesPayload = z.object({
  type: z.enum(["user", "account"]),
  ids: z.array(entityId).min(1).max(MAX_ENTITY_BATCH),
  trigger: triggerSchema.default("event"),
  /** Only the rules that read the `tags` fact: the entities' tags changed by hand, nothing else did. */
  testingTags: z.boolean().optional(),
});

export type RunResultJson = z.infer<typeof runResultSchema>;
export type RunProgress = z.infer<typeof runProgressSchema>;
export type RunRulePayload = z.input<typeof runRulePayload>;
export type RunAllPayload = z.input<typeof runAllPayload>;
export type EvaluatePartitionPayload = z.infer<typeof evaluatePartitionPayload>;
export type EvaluateEntitiesPayload = z.input<typeof evaluateEntitiesPayload>;

/** What a run or re-evaluation job returns: the summary an inline `run` prints. */
export interface RunJobResult {
  asOf: string;
  results: RunResultJson[];
}

/** One line naming every problem of a payload that does not parse. */
export function describePayloadError(name: string, error: z.ZodError): string {
  const problems = error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(payload)"}: ${i.message}`);
  return `invalid ${name} payload: ${problems.join("; ")}`;
}
