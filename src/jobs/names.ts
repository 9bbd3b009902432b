/** The queues signaltag uses; every key lives under the configured prefix (SIGNALTAG_QUEUE_PREFIX). */
export const QUEUES = {
  /** Rule runs: one rule, or several in dependency order; scheduled runs land here too. */
  rules: "rules",
  /** Partitions of a large run, the children of a rule run's flow. */
  partitions: "partitions",
  /** Re-evaluations of a few entities (after an import, or on demand). */
  entities: "entities",
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOB_NAMES = {
  runRule: "run-rule",
  runAll: "run-all",
  evaluatePartition: "evaluate-partition",
  evaluateEntities: "evaluate-entities",
} as const;

export type JobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

/** Job scheduler ids for rules: one per enabled rule with a schedule. */
export const SCHEDULER_PREFIX = "rule-";

export function schedulerId(ruleId: string): string {
  return `${SCHEDULER_PREFIX}${ruleId}`;
}
