CREATE TABLE "ingest_expired" (
	"kind" text PRIMARY KEY NOT NULL,
	"messages" bigint DEFAULT 0 NOT NULL,
	"last_expired_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ingest_expired_kind_check" CHECK ("ingest_expired"."kind" in ('track', 'identify', 'member'))
);
--> statement-breakpoint
CREATE INDEX "ingest_waiting_received_at_idx" ON "ingest_waiting" USING btree ("received_at");