CREATE INDEX "accounts_provisioned_at_idx" ON "accounts" USING btree ("provisioned_at");--> statement-breakpoint
CREATE INDEX "entity_changes_kind_idx" ON "entity_changes" USING btree ("entity_type","kind","tag_id","txid");--> statement-breakpoint
CREATE INDEX "users_created_at_idx" ON "users" USING btree ("created_at");