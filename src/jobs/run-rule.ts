import { z } from "zod";
import type { QueueSet } from "./connection.ts";
import { addDeduplicated, DEFAULT_JOB_OPTIONS, defineJobKind, type Enqueued } from "./job-kind.ts";
import { ruleId } from "./payload-fields.ts";
import { QUEUES } from "./queues.ts";
import { processRunJob } from "./run-job.ts";
import { runFields } from "./run-payload.ts";

const runRulePayload = z.object({ ruleId, ...runFields });

export type RunRulePayload = z.input<typeof runRulePayload>;

/** Runs one rule (scheduled, or `signaltag enqueue run --rule ID`); large runs fan out into partitions. */
export const runRuleJob = defineJobKind({
  name: "run-rule",
  queue: QUEUES.rules,
  schema: runRulePayload,
  options: DEFAULT_JOB_OPTIONS,
  handle: (payload, job, token, deps) =>
    processRunJob(job, token, deps, {
      ruleIds: [payload.ruleId],
      asOf: payload.asOf,
      trigger: payload.trigger,
      force: payload.force,
      full: payload.full,
      progress: payload.progress,
    }),
});

/** Queues a run of one rule, folded into a waiting run with the same deduplication id (see enqueueRun). */
export function enqueueRunRule(
  queues: QueueSet,
  data: RunRulePayload,
  deduplicationId: string,
): Promise<Enqueued> {
  return addDeduplicated(queues, runRuleJob, data, {
    deduplication: { id: deduplicationId, keepLastIfActive: true },
  });
}
