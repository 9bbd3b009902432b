import { sql } from "drizzle-orm";
import { customType, index, integer, pgTable, text } from "drizzle-orm/pg-core";

/** A Postgres `xid8` (a 64-bit transaction id that never wraps), read as its decimal text. */
const xid8 = customType<{ data: string }>({ dataType: () => "xid8" });

/**
 * Which entities changed in which transaction, so a rule run can re-evaluate
 * only what changed since its last run instead of every entity. Written by
 * statement-level triggers (drizzle/0007_entity_changes.sql) on users,
 * accounts, activity_daily, claims and suppressions, whatever writes them. A
 * run remembers the snapshot it evaluated under and later reads the changes
 * of every transaction that snapshot did not see (src/runs/incremental.ts).
 *
 * kind: `row` (the entity's own row), `member` (a user of this account came,
 * went or changed), `activity` (its rollups), `claim` and `suppression` (of
 * tag `tag_id`), `reset` (a watched table was truncated: every entity may have changed).
 */
export const entityChanges = pgTable(
  "entity_changes",
  {
    txid: xid8("txid").notNull().default(sql`pg_current_xact_id()`),
    entityType: text("entity_type", { enum: ["user", "account"] }).notNull(),
    entityId: text("entity_id").notNull(),
    kind: text("kind", { enum: ["row", "member", "activity", "claim", "suppression", "reset"] }).notNull(),
    tagId: integer("tag_id"),
  },
  (t) => [
    index("entity_changes_txid_idx").on(t.txid),
    // A run reads the changes of its entity type by kind (and tag): a first run's hundreds of thousands of
    // claim changes for other tags are not read by every rule's next run. tag_id is null except for
    // claims and suppressions, so `tag_id is null` makes txid a range bound for the other kinds.
    index("entity_changes_kind_idx").on(t.entityType, t.kind, t.tagId, t.txid),
  ],
);
