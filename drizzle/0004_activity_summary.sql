CREATE TABLE "activity_summary" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"first_day" date NOT NULL,
	"last_day" date NOT NULL,
	"days" bit varying NOT NULL,
	CONSTRAINT "activity_summary_entity_type_entity_id_pk" PRIMARY KEY("entity_type","entity_id")
);
