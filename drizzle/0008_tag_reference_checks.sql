ALTER TABLE "claims" DROP CONSTRAINT "claims_tag_id_tags_id_fk";
--> statement-breakpoint
ALTER TABLE "tag_events" DROP CONSTRAINT "tag_events_tag_id_tags_id_fk";
--> statement-breakpoint
-- claims and tag_events reference tags through checks made once per statement (a per-row foreign key
-- cost about 2 s per 450k claims a first rule run writes, and as much again for their tag events).
-- Tags are permanent: a tag cannot be deleted or change its id, so a reference, once checked, holds.
CREATE FUNCTION signaltag_check_tag_references() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE
  missing integer;
BEGIN
  SELECT n.tag_id INTO missing FROM (SELECT DISTINCT tag_id FROM new_rows) n
  WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = n.tag_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'insert or update on table "%" violates the tag reference: tag % does not exist', TG_TABLE_NAME, missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION signaltag_tags_are_permanent() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id THEN
    RAISE EXCEPTION 'tags are permanent: tag % cannot be deleted or renumbered', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER claims_tag_reference_insert AFTER INSERT ON claims
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_check_tag_references();
--> statement-breakpoint
CREATE TRIGGER claims_tag_reference_update AFTER UPDATE ON claims
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_check_tag_references();
--> statement-breakpoint
CREATE TRIGGER tag_events_tag_reference_insert AFTER INSERT ON tag_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_check_tag_references();
--> statement-breakpoint
CREATE TRIGGER tag_events_tag_reference_update AFTER UPDATE ON tag_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_check_tag_references();
--> statement-breakpoint
CREATE TRIGGER tags_permanent BEFORE DELETE OR UPDATE ON tags
  FOR EACH ROW EXECUTE FUNCTION signaltag_tags_are_permanent();
--> statement-breakpoint
-- Claims and suppressions are logged without de-duplicating: a statement rarely repeats an entity and tag.
CREATE OR REPLACE FUNCTION signaltag_log_tag_changes() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind, tag_id)
    SELECT entity_type, entity_id, TG_ARGV[0], tag_id FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind, tag_id)
    SELECT entity_type, entity_id, TG_ARGV[0], tag_id FROM old_rows;
  ELSE
    INSERT INTO entity_changes (entity_type, entity_id, kind, tag_id)
    SELECT entity_type, entity_id, TG_ARGV[0], tag_id FROM old_rows
    UNION ALL SELECT entity_type, entity_id, TG_ARGV[0], tag_id FROM new_rows;
  END IF;
  RETURN NULL;
END $$;
