import { UnrecoverableError } from "bullmq";
import { evaluatePartition } from "../runs/partitioned-run.ts";
import { defineJobKind } from "./job-kind.ts";
import { JOB_NAMES, QUEUES } from "./names.ts";
import { PARTITION_JOB_OPTIONS } from "./options.ts";
import { evaluatePartitionPayload } from "./payloads.ts";
import { loadRulesCached } from "./rules-cache.ts";

/** Evaluates one key range of a partitioned rule run and stores its changes for the run's parent. */
export const evaluatePartitionJob = defineJobKind({
  name: JOB_NAMES.evaluatePartition,
  queue: QUEUES.partitions,
  schema: evaluatePartitionPayload,
  options: PARTITION_JOB_OPTIONS,
  async handle(payload, _job, _token, { db, config }) {
    const rules = await loadRulesCached(config.rulesDir);
    const rule = rules.find((r) => r.definition.id === payload.ruleId);
    // Evaluating another version than the other partitions would mix two rules in one run.
    if (!rule || rule.version !== payload.ruleVersion) {
      throw new UnrecoverableError(
        `rule ${payload.ruleId} ${rule ? "changed" : "was removed"} after its run was partitioned; the run is recorded as failed`,
      );
    }
    return evaluatePartition(
      db,
      rule,
      {
        asOf: new Date(payload.asOf),
        timezone: config.timezone,
        trigger: payload.trigger,
        removalGuard: config.removalGuard,
      },
      {
        runKey: payload.runKey,
        partition: payload.partition,
        after: payload.after,
        through: payload.through,
      },
    );
  },
});
