import { customType, date, pgTable, primaryKey, text } from "drizzle-orm/pg-core";

/** A Postgres `bit varying`, read and written as a string of 0s and 1s. */
const varbit = customType<{ data: string }>({ dataType: () => "bit varying" });

/**
 * One row per entity with any activity: the set of its active days as a
 * bitmap, bit i (0-based from the left) standing for first_day + i, so
 * `activeDays` over any window ending on any day (backfills included) is one
 * bit_count and `daysSinceLastActive` one lookup, instead of a scan of the
 * entity's rollups. Kept equal to activity_daily by statement-level triggers
 * on that table (drizzle/0005_activity_summary_triggers.sql, 0010, 0013): whatever writes
 * rollups, the summary follows in the same transaction.
 */
export const activitySummary = pgTable(
  "activity_summary",
  {
    entityType: text("entity_type", { enum: ["user", "account"] }).notNull(),
    entityId: text("entity_id").notNull(),
    firstDay: date("first_day", { mode: "string" }).notNull(),
    lastDay: date("last_day", { mode: "string" }).notNull(),
    days: varbit("days").notNull(),
  },
  (t) => [primaryKey({ columns: [t.entityType, t.entityId] })],
);
