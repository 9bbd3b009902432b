DROP INDEX "claims_tag_entity_idx";--> statement-breakpoint
ALTER TABLE "claims" DROP CONSTRAINT "claims_source_tag_id_entity_type_entity_id_pk";--> statement-breakpoint
ALTER TABLE "claims" ADD CONSTRAINT "claims_tag_id_entity_type_entity_id_source_pk" PRIMARY KEY("tag_id","entity_type","entity_id","source");