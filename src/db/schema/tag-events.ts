import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Append-only history: a claim was added or removed. `membershipChanged` says
 * whether the entity gained or lost the tag itself with this change.
 */
export const tagEvents = pgTable(
  "tag_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    entityType: text("entity_type", { enum: ["user", "account"] }).notNull(),
    entityId: text("entity_id").notNull(),
    // Every tag_id names a tag: checked once per statement by a trigger instead of a per-row
    // foreign key (drizzle/0008_tag_reference_checks.sql); tags are permanent, so nothing can dangle.
    tagId: integer("tag_id").notNull(),
    action: text("action", { enum: ["added", "removed"] }).notNull(),
    source: text("source").notNull(),
    actor: text("actor"),
    membershipChanged: boolean("membership_changed").notNull(),
    ruleId: text("rule_id"),
    ruleVersion: text("rule_version"),
    runId: bigint("run_id", { mode: "number" }),
    asOf: timestamp("as_of", { withTimezone: true, mode: "date" }),
    explanation: jsonb("explanation"),
  },
  (t) => [
    index("tag_events_entity_idx").on(t.entityType, t.entityId, t.id),
    index("tag_events_tag_idx").on(t.tagId, t.id),
  ],
);
