import { z } from "zod";
import type { QueueSet } from "./connection.ts";
import { addDeduplicated, DEFAULT_JOB_OPTIONS, defineJobKind, type Enqueued } from "./job-kind.ts";
import { ruleId } from "./payload-fields.ts";
import { QUEUES } from "./queues.ts";
import { processRunJob } from "./run-job.ts";
import { runFields } from "./run-payload.ts";

const runAllPayload = z.object({
  /** Only these rules (in dependency order); unset: every enabled rule. */
  ruleIds: z.array(ruleId).min(1).optional(),
  ...runFields,
});

export type RunAllPayload = z.input<typeof runAllPayload>;

/**
 * Runs every enabled rule, or the given ones, in dependency order in one job,
 * so a rule testing tags sees what the rules before it did.
 */
export const runAllJob = defineJobKind({
  name: "run-all",
  queue: QUEUES.rules,
  schema: runAllPayload,
  options: DEFAULT_JOB_OPTIONS,
  handle: (payload, job, token, deps) =>
    processRunJob(job, token, deps, {
      ruleIds: payload.ruleIds ?? [],
      asOf: payload.asOf,
      trigger: payload.trigger,
      force: payload.force,
      full: payload.full,
      progress: payload.progress,
    }),
});

/** Queues a run of several rules, or all, folded into a waiting run with the same deduplication id (see enqueueRun). */
export function enqueueRunAll(
  queues: QueueSet,
  data: RunAllPayload,
  deduplicationId: string,
): Promise<Enqueued> {
  return addDeduplicated(queues, runAllJob, data, {
    deduplication: { id: deduplicationId, keepLastIfActive: true },
  });
}
