import { sql } from "drizzle-orm";
import { bigint, check, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * How many tracking-API messages waited in ingest_waiting past the
 * retention (SIGNALTAG_INGEST_WAIT_DAYS) and were deleted, by kind: what
 * `signaltag status` and /metrics report, whichever process expired them.
 */
export const ingestExpired = pgTable(
  "ingest_expired",
  {
    kind: text("kind", { enum: ["track", "identify", "member"] }).primaryKey(),
    messages: bigint("messages", { mode: "number" }).notNull().default(0),
    lastExpiredAt: timestamp("last_expired_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [check("ingest_expired_kind_check", sql`${t.kind} in ('track', 'identify', 'member')`)],
);
