import { defineJobKind } from "./job-kind.ts";
import { JOB_NAMES, QUEUES } from "./names.ts";
import { DEFAULT_JOB_OPTIONS } from "./options.ts";
import { runRulePayload } from "./payloads.ts";
import { processRunJob } from "./run-job.ts";

/** Runs one rule (scheduled, or `signaltag enqueue run --rule ID`); large runs fan out into partitions. */
export const runRuleJob = defineJobKind({
  name: JOB_NAMES.runRule,
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
