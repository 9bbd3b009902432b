import { defineJobKind } from "./job-kind.ts";
import { JOB_NAMES, QUEUES } from "./names.ts";
import { DEFAULT_JOB_OPTIONS } from "./options.ts";
import { runAllPayload } from "./payloads.ts";
import { processRunJob } from "./run-job.ts";

/**
 * Runs every enabled rule, or the given ones, in dependency order in one job,
 * so a rule testing tags sees what the rules before it did.
 */
export const runAllJob = defineJobKind({
  name: JOB_NAMES.runAll,
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
