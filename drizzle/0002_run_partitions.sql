CREATE TABLE "run_partition_changes" (
	"run_key" text NOT NULL,
	"entity_id" text NOT NULL,
	"partition" integer NOT NULL,
	"action" text NOT NULL,
	"explanation" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "run_partition_changes_run_key_entity_id_pk" PRIMARY KEY("run_key","entity_id")
);
--> statement-breakpoint
CREATE TABLE "run_partitions" (
	"run_key" text NOT NULL,
	"partition" integer NOT NULL,
	"rule_id" text NOT NULL,
	"rule_version" text NOT NULL,
	"evaluated" integer NOT NULL,
	"matched" integer NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_partitions_run_key_partition_pk" PRIMARY KEY("run_key","partition")
);
