import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The outbox: one row per (subscription, tag event), written in the tag
 * event's transaction, plus test pings (no tag event). A flood writes one row
 * per tagged entity inside the run's statement, so a row holds only what the
 * tag event does not: its type (`tag.added`/`tag.removed`, or `ping` without
 * a tag event) and entity are read from the tag event. `status` is pending
 * until a 2xx (delivered) or until retries run out (failed). A worker leases
 * a row by setting `leased_until`; a worker that dies leaves the lease to
 * expire and the row is taken up again with the same webhook-id.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    // Ids are drawn 100 at a time: a rule tagging 100,000 entities writes its deliveries in one statement.
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity({ cache: 100 }),
    subscriptionId: integer("subscription_id").notNull(),
    /** Null for a ping. */
    tagEventId: bigint("tag_event_id", { mode: "number" }),
    status: text("status", { enum: ["pending", "delivered", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    leasedUntil: timestamp("leased_until", { withTimezone: true, mode: "date" }),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true, mode: "date" }),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
  },
  // Every index here is paid for by each row a flood writes, so there are few: listing a
  // subscription's deliveries reads the primary key backwards instead of an index of its own.
  (t) => [
    // Rows never tried (attempts = 0: every row a run writes) sit in this index only, besides the primary
    // key: a flood writes one row and two index entries, each appended at its index's end (rows come in
    // tag-event order). Workers take them in tag-event order; it also tells whether a tag event has a
    // fresh delivery (an entity's earlier pending delivery holds back its later ones; the entity's events
    // are found by tag_events' own index). A row leaves it at its first lease (attempts becomes 1).
    index("webhook_deliveries_fresh_idx")
      .on(t.subscriptionId, t.tagEventId)
      .where(sql`${t.status} = 'pending' and ${t.attempts} = 0`),
    // Rows tried before (retries, replays, pings): due ones per subscription, soonest first; rows waiting
    // out a backoff are not read.
    index("webhook_deliveries_due_idx")
      .on(t.subscriptionId, t.nextAttemptAt, t.id)
      .where(sql`${t.status} = 'pending' and ${t.attempts} > 0`),
    // The same rows by tag event, for the entity order.
    index("webhook_deliveries_retry_event_idx")
      .on(t.subscriptionId, t.tagEventId)
      .where(sql`${t.status} = 'pending' and ${t.attempts} > 0`),
    // Deliveries in flight (leased), counted against a subscription's max_in_flight.
    index("webhook_deliveries_leased_idx")
      .on(t.subscriptionId)
      .where(sql`${t.status} = 'pending' and ${t.leasedUntil} is not null`),
    // Delivered rows past their retention, oldest first, for the prune; a row enters it when it is delivered,
    // never when a run writes it.
    index("webhook_deliveries_delivered_idx").on(t.deliveredAt).where(sql`${t.status} = 'delivered'`),
    index("webhook_deliveries_failed_idx")
      .on(t.subscriptionId, t.createdAt)
      .where(sql`${t.status} = 'failed'`),
  ],
);
