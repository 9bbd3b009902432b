import { boolean, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/** The rule files as last synced; `version` is the content hash. */
export const rules = pgTable("rules", {
  id: text("id").primaryKey(),
  version: text("version").notNull(),
  tag: text("tag").notNull(),
  target: text("target", { enum: ["user", "account"] }).notNull(),
  enabled: boolean("enabled").notNull(),
  definition: jsonb("definition").notNull(),
  syncedAt: timestamp("synced_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** Every version a rule has had, so history can always show what was evaluated. */
export const ruleVersions = pgTable(
  "rule_versions",
  {
    ruleId: text("rule_id").notNull(),
    version: text("version").notNull(),
    definition: jsonb("definition").notNull(),
    firstSeenAt: timestamp("first_seen_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ruleId, t.version] })],
);
