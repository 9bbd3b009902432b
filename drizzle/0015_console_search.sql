-- The console's search box: prefix matches by id, email and name (any case) as index ranges.
-- text_pattern_ops compares byte-wise, whatever the database's collation, so a prefix is one range.
-- Expression indexes drizzle's schema cannot state; the queries are in src/tags/sql/search.ts.
CREATE INDEX IF NOT EXISTS "users_id_prefix_idx" ON "users" USING btree ("id" text_pattern_ops);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_email_prefix_idx" ON "users" USING btree (lower("email") text_pattern_ops);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_name_prefix_idx" ON "users" USING btree (lower("name") text_pattern_ops);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "accounts_id_prefix_idx" ON "accounts" USING btree ("id" text_pattern_ops);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "accounts_name_prefix_idx" ON "accounts" USING btree (lower("name") text_pattern_ops);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "tags_name_prefix_idx" ON "tags" USING btree (lower("name") text_pattern_ops);
