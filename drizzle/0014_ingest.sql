CREATE TABLE "ingest_waiting" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "ingest_waiting_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"kind" text NOT NULL,
	"user_id" text,
	"account_id" text,
	"event_id" text,
	"message" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ingest_waiting_kind_check" CHECK ("ingest_waiting"."kind" in ('track', 'identify', 'member'))
);
--> statement-breakpoint
ALTER TABLE "api_keys" DROP CONSTRAINT "api_keys_role_check";--> statement-breakpoint
ALTER TABLE "activity_events" ADD COLUMN "received_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "ingest_waiting_user_idx" ON "ingest_waiting" USING btree ("user_id") WHERE "ingest_waiting"."user_id" is not null;--> statement-breakpoint
CREATE INDEX "ingest_waiting_account_idx" ON "ingest_waiting" USING btree ("account_id") WHERE "ingest_waiting"."account_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "ingest_waiting_event_id_idx" ON "ingest_waiting" USING btree ("event_id") WHERE "ingest_waiting"."event_id" is not null;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_role_check" CHECK ("api_keys"."role" in ('viewer', 'editor', 'admin', 'ingest'));