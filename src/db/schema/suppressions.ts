import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { tags } from "./tags.ts";

/**
 * A person's override: rules must not claim this tag on this entity while the
 * suppression is active (not lifted, and `until` unset or still ahead of the
 * run's as-of instant). `ruleId` null suppresses every rule's claim on the tag.
 */
export const suppressions = pgTable(
  "suppressions",
  {
    id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
    tagId: integer("tag_id")
      .notNull()
      .references(() => tags.id),
    entityType: text("entity_type", { enum: ["user", "account"] }).notNull(),
    entityId: text("entity_id").notNull(),
    ruleId: text("rule_id"),
    until: timestamp("until", { withTimezone: true, mode: "date" }),
    reason: text("reason"),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    liftedAt: timestamp("lifted_at", { withTimezone: true, mode: "date" }),
    liftedBy: text("lifted_by"),
  },
  (t) => [index("suppressions_tag_entity_idx").on(t.tagId, t.entityType, t.entityId)],
);
