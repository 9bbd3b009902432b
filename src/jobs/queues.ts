/** The queues signaltag uses; every key lives under the configured prefix (SIGNALTAG_QUEUE_PREFIX). */
export const QUEUES = {
  /** Rule runs: one rule, or several in dependency order; scheduled runs land here too. */
  rules: "rules",
  /** Partitions of a large run, the children of a rule run's flow. */
  partitions: "partitions",
  /** Re-evaluations of a few entities (after an import, or on demand). */
  entities: "entities",
  /** Webhook delivery: drains the outbox, apart from rule runs so a flood of deliveries never delays them. */
  webhooks: "webhooks",
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
