ALTER TABLE "activity_events" DROP CONSTRAINT "activity_events_pkey";--> statement-breakpoint
ALTER TABLE "activity_events" ALTER COLUMN "id" SET CACHE 1000;--> statement-breakpoint
CREATE INDEX "activity_events_ingested_at_idx" ON "activity_events" USING brin ("ingested_at");
