import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/**
 * Raw usage signals, kept as imported; facts read the daily rollups instead.
 * Nothing looks events up by id, so it has no index: on a 2M-event import the
 * btree of a primary key cost about as much as the bare COPY of the file. The
 * id comes from a sequence that hands each session numbers a thousand at a
 * time (an import draws millions). An import finds the events it stored by
 * their ingested_at (its transaction's start), which a BRIN index keeps cheap.
 */
export const activityEvents = pgTable(
  "activity_events",
  {
    id: bigint("id", { mode: "number" }).notNull().generatedAlwaysAsIdentity({ cache: 1000 }),
    /** Optional external id; when given, re-importing the same event is a no-op. */
    eventId: text("event_id"),
    userId: text("user_id"),
    accountId: text("account_id").notNull(),
    activity: text("activity").notNull(),
    module: text("module"),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull(),
    count: integer("count").notNull().default(1),
    ingestedAt: timestamp("ingested_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** When the tracking API received the event (Segment's receivedAt); null for imported files. */
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("activity_events_event_id_idx").on(t.eventId).where(sql`${t.eventId} is not null`),
    index("activity_events_ingested_at_idx").using("brin", t.ingestedAt),
  ],
);
