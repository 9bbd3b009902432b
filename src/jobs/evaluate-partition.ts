import { UnrecoverableError } from "bullmq";
import { z } from "zod";
import { evaluatePartition } from "../runs/partitioned-run.ts";
import type { QueueSet } from "./connection.ts";
import { DEFAULT_JOB_OPTIONS, defineJobKind } from "./job-kind.ts";
import { entityId, instant, ruleId, triggerSchema } from "./payload-fields.ts";
import { QUEUES } from "./queues.ts";
import { loadRulesCached } from "./rules-cache.ts";

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

export type EvaluatePartitionPayload = z.infer<typeof evaluatePartitionPayload>;

/** A partition's job id: the same partition of the same run is one job, whoever enqueues it. */
export function partitionJobId(runKey: string, partition: number): string {
  return `${runKey}.p${partition}`;
}

/** Evaluates one key range of a partitioned rule run and stores its changes for the run's parent. */
export const evaluatePartitionJob = defineJobKind({
  name: "evaluate-partition",
  queue: QUEUES.partitions,
  schema: evaluatePartitionPayload,
  // A partition that keeps failing does not block its run: the parent goes on
  // and records the run as failed because a partition is missing.
  options: { ...DEFAULT_JOB_OPTIONS, ignoreDependencyOnFailure: true },
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

/**
 * Queues the partitions of one rule's run as children of its run job, which
 * waits for them. Their ids are fixed by the run and the partition, so
 * enqueueing them again after a crash adds nothing twice.
 */
export async function enqueuePartitions(
  queues: QueueSet,
  parent: { id: string; queue: string },
  partitions: readonly EvaluatePartitionPayload[],
): Promise<void> {
  await queues.partitions.addBulk(
    partitions.map((data) => ({
      name: evaluatePartitionJob.name,
      data,
      opts: { ...evaluatePartitionJob.options, jobId: partitionJobId(data.runKey, data.partition), parent },
    })),
  );
}
