import { index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * One source's assertion that an entity has a tag. Sources: manual, bulk, file,
 * rule:<id>. An entity has a tag while at least one claim exists.
 */
export const claims = pgTable(
  "claims",
  {
    source: text("source").notNull(),
    // Every tag_id names a tag: checked once per statement by a trigger instead of a per-row
    // foreign key (drizzle/0008_tag_reference_checks.sql); tags are permanent, so nothing can dangle.
    tagId: integer("tag_id").notNull(),
    entityType: text("entity_type", { enum: ["user", "account"] }).notNull(),
    entityId: text("entity_id").notNull(),
    actor: text("actor"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    // Tag first: the key also serves segments and every lookup of a tag's claims, so no second index
    // on (tag_id, entity_type, entity_id) is kept up to date on each write. A rule's own claims are
    // its tag's range, the source a filter within it.
    primaryKey({ columns: [t.tagId, t.entityType, t.entityId, t.source] }),
    index("claims_entity_idx").on(t.entityType, t.entityId),
  ],
);
