import { bigint, date, pgTable, primaryKey, text } from "drizzle-orm/pg-core";

/**
 * Daily rollups per entity, calendar day in the workspace time zone, activity
 * and module (empty string for none). Every event counts for its account and,
 * when it has one, for its user.
 */
export const activityDaily = pgTable(
  "activity_daily",
  {
    entityType: text("entity_type", { enum: ["user", "account"] }).notNull(),
    entityId: text("entity_id").notNull(),
    day: date("day", { mode: "string" }).notNull(),
    activity: text("activity").notNull(),
    module: text("module").notNull().default(""),
    count: bigint("count", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.entityType, t.entityId, t.day, t.activity, t.module] })],
);
