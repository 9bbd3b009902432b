import { index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { tags } from "./tags.ts";

/**
 * One source's assertion that an entity has a tag. Sources: manual, bulk, file,
 * rule:<id>. An entity has a tag while at least one claim exists.
 */
export const claims = pgTable(
  "claims",
  {
    source: text("source").notNull(),
    tagId: integer("tag_id")
      .notNull()
      .references(() => tags.id),
    entityType: text("entity_type", { enum: ["user", "account"] }).notNull(),
    entityId: text("entity_id").notNull(),
    actor: text("actor"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.tagId, t.entityType, t.entityId] }),
    index("claims_entity_idx").on(t.entityType, t.entityId),
    index("claims_tag_entity_idx").on(t.tagId, t.entityType, t.entityId),
  ],
);
