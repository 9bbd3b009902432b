import { sql } from "drizzle-orm";
import { boolean, check, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Where tag changes are sent. Filters are arrays, null meaning "any": `tags`
 * holds lower-cased tag names (tags are unique case-insensitively and never
 * renamed), `sources` holds source kinds (`rule`, `manual`, `bulk`, `file`).
 * The secret is stored as given to the subscriber (whsec_ + base64): signing
 * needs the key itself, so a hash would not do (docs/webhooks.md).
 */
export const webhookSubscriptions = pgTable(
  "webhook_subscriptions",
  {
    id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
    url: text("url").notNull(),
    events: text("events").array().notNull(),
    tags: text("tags").array(),
    entityType: text("entity_type", { enum: ["user", "account"] }),
    sources: text("sources").array(),
    enabled: boolean("enabled").notNull().default(true),
    secret: text("secret").notNull(),
    /** Deliveries of this subscription in flight at once, across every worker. */
    maxInFlight: integer("max_in_flight").notNull().default(32),
    /** Deliveries started per second, across every worker (kept in Redis; in memory for serve); null for no limit. */
    ratePerSecond: integer("rate_per_second"),
    disabledReason: text("disabled_reason"),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    check("webhook_subscriptions_entity_type_check", sql`${t.entityType} in ('user', 'account')`),
    check("webhook_subscriptions_max_in_flight_check", sql`${t.maxInFlight} between 1 and 1000`),
  ],
);
