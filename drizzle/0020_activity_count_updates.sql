-- Almost every update of a rollup only adds to its count (the imports' merge,
-- the tracking API's upserts): its entity and day stay as they were, so its
-- summary cannot change and its entity is the one of the new row. The
-- statement trigger on updates therefore keeps only the new rows (no copy of
-- the old ones, no comparison of the two), and logs their entities. An
-- update that does move a rollup to another entity or day (none of
-- signaltag's writers does, but a hand-written one may) is caught by a row
-- trigger that fires only when the key columns are set and differ: it
-- recomputes both entities' summaries and logs the entity the row left.
CREATE OR REPLACE FUNCTION signaltag_log_activity_changes() RETURNS trigger
  LANGUAGE plpgsql SET work_mem = '64MB'
  AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    SELECT DISTINCT entity_type, entity_id, 'activity' FROM old_rows;
  ELSE
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    SELECT DISTINCT entity_type, entity_id, 'activity' FROM new_rows;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION signaltag_activity_key_moved() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM signaltag_summary_refresh(ARRAY[OLD.entity_type, NEW.entity_type], ARRAY[OLD.entity_id, NEW.entity_id]);
  IF (OLD.entity_type, OLD.entity_id) IS DISTINCT FROM (NEW.entity_type, NEW.entity_id) THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind) VALUES (OLD.entity_type, OLD.entity_id, 'activity');
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
DROP TRIGGER activity_summary_update ON activity_daily;
--> statement-breakpoint
DROP FUNCTION signaltag_summary_after_update();
--> statement-breakpoint
DROP TRIGGER activity_log_update ON activity_daily;
--> statement-breakpoint
CREATE TRIGGER activity_log_update AFTER UPDATE ON activity_daily
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_activity_changes();
--> statement-breakpoint
CREATE TRIGGER activity_key_update AFTER UPDATE OF entity_type, entity_id, day ON activity_daily
  FOR EACH ROW
  WHEN (OLD.entity_type IS DISTINCT FROM NEW.entity_type OR OLD.entity_id IS DISTINCT FROM NEW.entity_id
        OR OLD.day IS DISTINCT FROM NEW.day)
  EXECUTE FUNCTION signaltag_activity_key_moved();
