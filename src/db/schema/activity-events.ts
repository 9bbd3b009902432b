import { sql } from "drizzle-orm";
import { bigint, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** Raw usage signals, kept as imported; facts read the daily rollups instead. */
export const activityEvents = pgTable(
  "activity_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    /** Optional external id; when given, re-importing the same event is a no-op. */
    eventId: text("event_id"),
    userId: text("user_id"),
    accountId: text("account_id").notNull(),
    activity: text("activity").notNull(),
    module: text("module"),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull(),
    count: integer("count").notNull().default(1),
    ingestedAt: timestamp("ingested_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("activity_events_event_id_idx").on(t.eventId).where(sql`${t.eventId} is not null`)],
);
