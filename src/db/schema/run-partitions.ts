import { sql } from "drizzle-orm";
import { integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * A partitioned rule run in progress: each partition job evaluates one key
 * range and leaves its changes here; the run's parent applies them all at once
 * (under the rule's lock, with the guard over the total) and deletes them in
 * the same transaction. Rows left by a run that never finished are inert.
 */
export const runPartitions = pgTable(
  "run_partitions",
  {
    runKey: text("run_key").notNull(),
    partition: integer("partition").notNull(),
    ruleId: text("rule_id").notNull(),
    ruleVersion: text("rule_version").notNull(),
    evaluated: integer("evaluated").notNull(),
    matched: integer("matched").notNull(),
    /** The snapshot the partition evaluated under: the applied run starts the rule's next incremental run. */
    snapshot: text("snapshot"),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runKey, t.partition] })],
);

/** One change a partition computed: add or remove the rule's claim on an entity, with why. */
export const runPartitionChanges = pgTable(
  "run_partition_changes",
  {
    runKey: text("run_key").notNull(),
    entityId: text("entity_id").notNull(),
    partition: integer("partition").notNull(),
    action: text("action", { enum: ["add", "remove"] }).notNull(),
    explanation: jsonb("explanation").notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [primaryKey({ columns: [t.runKey, t.entityId] })],
);
