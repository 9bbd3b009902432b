DROP INDEX "webhook_deliveries_pending_entity_idx";--> statement-breakpoint
CREATE INDEX "webhook_deliveries_pending_event_idx" ON "webhook_deliveries" USING btree ("subscription_id","tag_event_id") WHERE "webhook_deliveries"."status" = 'pending';--> statement-breakpoint
ALTER TABLE "webhook_deliveries" DROP COLUMN "type";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" DROP COLUMN "entity_type";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" DROP COLUMN "entity_id";