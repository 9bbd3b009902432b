import { sql } from "drizzle-orm";
import { bigint, check, index, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/**
 * Tracking-API messages (src/ingest) that name a user or account not known
 * yet: Segment sources send in any order, so a track may come before its
 * identify, and an identify before the group of its account. They wait here,
 * written in the transaction that acknowledged them, and are applied in the
 * transaction that makes their entity known.
 *
 * kind: `track` (an event: user_id and/or account_id, message holds the
 * event), `identify` (a user's fields; account_id when the account is named
 * but unknown), `member` (a group put user_id in account_id before the user
 * was identified).
 *
 * A message waits at most SIGNALTAG_INGEST_WAIT_DAYS after it was received
 * (a folded identify: after the latest of its messages); then the periodic
 * sweep deletes it and counts it in ingest_expired.
 */
export const ingestWaiting = pgTable(
  "ingest_waiting",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    kind: text("kind", { enum: ["track", "identify", "member"] }).notNull(),
    userId: text("user_id"),
    accountId: text("account_id"),
    /** A track's messageId: a resent message waits once. */
    eventId: text("event_id"),
    message: jsonb("message").$type<Record<string, unknown>>().notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    index("ingest_waiting_user_idx").on(t.userId).where(sql`${t.userId} is not null`),
    index("ingest_waiting_account_idx").on(t.accountId).where(sql`${t.accountId} is not null`),
    // The oldest first: what expires (SIGNALTAG_INGEST_WAIT_DAYS), and how long the oldest has waited.
    index("ingest_waiting_received_at_idx").on(t.receivedAt),
    uniqueIndex("ingest_waiting_event_id_idx").on(t.eventId).where(sql`${t.eventId} is not null`),
    check("ingest_waiting_kind_check", sql`${t.kind} in ('track', 'identify', 'member')`),
  ],
);
