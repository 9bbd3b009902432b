-- One trigger for new rollup rows instead of two (activity_summary_insert of
-- 0005/0010 and activity_log_insert of 0007): the summary and the change log
-- are kept from one aggregate of new_rows per entity.
-- Adds active days to the summaries: each entity's days first_day..last_day
-- as a bitmap (bit i for first_day + i), ORed into what the summary holds.
CREATE FUNCTION signaltag_summary_add(types text[], ids text[], firsts date[], lasts date[], bitmaps bit varying[])
  RETURNS void
  LANGUAGE sql
  AS $$
  INSERT INTO activity_summary AS s (entity_type, entity_id, first_day, last_day, days)
  SELECT * FROM unnest(types, ids, firsts, lasts, bitmaps)
  ON CONFLICT (entity_type, entity_id) DO UPDATE SET
    first_day = least(s.first_day, excluded.first_day),
    last_day = greatest(s.last_day, excluded.last_day),
    days = (signaltag_zero_bits(s.first_day - least(s.first_day, excluded.first_day)) || s.days
              || signaltag_zero_bits(greatest(s.last_day, excluded.last_day) - s.last_day))
         | (signaltag_zero_bits(excluded.first_day - least(s.first_day, excluded.first_day)) || excluded.days
              || signaltag_zero_bits(greatest(s.last_day, excluded.last_day) - excluded.last_day))
$$;
--> statement-breakpoint
-- New rollup rows: their entities' summaries gain the days, and the entities
-- are logged as changed, from one aggregate per entity over new_rows (the
-- summary and the change log each aggregated it on their own before). Bits
-- are set in a bitmap of the statement's span; spans over 4096 days (a
-- backfill of decades) take each entity's own span, so no row builds a bitmap
-- that wide.
CREATE FUNCTION signaltag_activity_after_insert() RETURNS trigger
  LANGUAGE plpgsql SET work_mem = '64MB'
  AS $$
DECLARE
  lo date;
  hi date;
  done integer;
BEGIN
  SELECT min(day), max(day) INTO lo, hi FROM new_rows;
  IF lo IS NULL THEN
    RETURN NULL;
  END IF;
  IF hi - lo < 4096 THEN
    WITH e AS (
      SELECT n.entity_type, n.entity_id, min(n.day) AS f, max(n.day) AS l,
             bit_or(set_bit(signaltag_zero_bits(hi - lo + 1), n.day - lo, 1)) AS bits
      FROM new_rows n GROUP BY n.entity_type, n.entity_id),
    logged AS (INSERT INTO entity_changes (entity_type, entity_id, kind) SELECT entity_type, entity_id, 'activity' FROM e)
    SELECT 1 INTO done FROM (
      SELECT signaltag_summary_add(array_agg(entity_type), array_agg(entity_id), array_agg(f), array_agg(l),
               array_agg(substring(bits FROM f - lo + 1 FOR l - f + 1)))
      FROM e) x;
  ELSE
    WITH span AS (SELECT entity_type, entity_id, min(day) AS f, max(day) AS l FROM new_rows GROUP BY 1, 2),
    e AS (
      SELECT p.entity_type, p.entity_id, p.f, p.l, bit_or(set_bit(signaltag_zero_bits(p.l - p.f + 1), n.day - p.f, 1)) AS bits
      FROM new_rows n JOIN span p ON p.entity_type = n.entity_type AND p.entity_id = n.entity_id
      GROUP BY 1, 2, 3, 4),
    logged AS (INSERT INTO entity_changes (entity_type, entity_id, kind) SELECT entity_type, entity_id, 'activity' FROM e)
    SELECT 1 INTO done FROM (
      SELECT signaltag_summary_add(array_agg(entity_type), array_agg(entity_id), array_agg(f), array_agg(l), array_agg(bits))
      FROM e) x;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
DROP TRIGGER activity_summary_insert ON activity_daily;
--> statement-breakpoint
DROP TRIGGER activity_log_insert ON activity_daily;
--> statement-breakpoint
-- The trigger function of activity_summary_insert, which nothing calls any more.
DROP FUNCTION signaltag_summary_after_insert();
--> statement-breakpoint
CREATE TRIGGER activity_insert AFTER INSERT ON activity_daily
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_activity_after_insert();
