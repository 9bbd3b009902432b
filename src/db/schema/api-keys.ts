import { sql } from "drizzle-orm";
import { check, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** viewer < editor < admin; ingest stands apart: it may only send usage (src/ingest), as admin may. */
export const apiKeyRoles = ["viewer", "editor", "admin", "ingest"] as const;

/**
 * HTTP API keys. Only a SHA-256 hash of the key is stored (keys are random
 * 256-bit secrets, so a fast hash is enough); the key itself is shown once.
 * `name` is the actor recorded on every change made with the key.
 */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
    name: text("name").notNull(),
    role: text("role", { enum: apiKeyRoles }).notNull(),
    keyHash: text("key_hash").notNull(),
    /** The first characters of the key, so people can tell keys apart in listings. */
    prefix: text("prefix").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("api_keys_key_hash_idx").on(t.keyHash),
    // One active key per name, so the actor in history names one key.
    uniqueIndex("api_keys_active_name_idx").on(sql`lower(${t.name})`).where(sql`${t.revokedAt} is null`),
    check("api_keys_role_check", sql`${t.role} in ('viewer', 'editor', 'admin', 'ingest')`),
  ],
);
