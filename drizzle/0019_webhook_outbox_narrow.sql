DROP INDEX "webhook_deliveries_pending_entity_idx";--> statement-breakpoint
DROP INDEX "webhook_deliveries_due_idx";--> statement-breakpoint
CREATE INDEX "webhook_deliveries_fresh_idx" ON "webhook_deliveries" USING btree ("subscription_id","tag_event_id") WHERE "webhook_deliveries"."status" = 'pending' and "webhook_deliveries"."attempts" = 0;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_retry_event_idx" ON "webhook_deliveries" USING btree ("subscription_id","tag_event_id") WHERE "webhook_deliveries"."status" = 'pending' and "webhook_deliveries"."attempts" > 0;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_delivered_idx" ON "webhook_deliveries" USING btree ("delivered_at") WHERE "webhook_deliveries"."status" = 'delivered';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" USING btree ("subscription_id","next_attempt_at","id") WHERE "webhook_deliveries"."status" = 'pending' and "webhook_deliveries"."attempts" > 0;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" DROP COLUMN "type";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" DROP COLUMN "entity_type";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" DROP COLUMN "entity_id";