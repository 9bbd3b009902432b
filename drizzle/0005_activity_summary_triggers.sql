-- activity_summary follows activity_daily (see src/db/schema/activity-summary.ts).
-- Bit i (0-based from the left) of `days` stands for first_day + i; the bitmap
-- spans first_day..last_day exactly.
CREATE FUNCTION signaltag_zero_bits(n integer) RETURNS bit varying
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT repeat('0', greatest(n, 0))::bit varying $$;
--> statement-breakpoint
-- Recomputes the summaries of the given entities from their rollups (after deletes and key changes).
CREATE FUNCTION signaltag_summary_refresh(types text[], ids text[]) RETURNS void
  LANGUAGE plpgsql SET work_mem = '64MB'
  AS $$
BEGIN
  DELETE FROM activity_summary s
  USING unnest(types, ids) AS a(entity_type, entity_id)
  WHERE s.entity_type = a.entity_type AND s.entity_id = a.entity_id;
  INSERT INTO activity_summary (entity_type, entity_id, first_day, last_day, days)
  WITH a AS (SELECT DISTINCT * FROM unnest(types, ids) AS u(entity_type, entity_id)),
  r AS (
    SELECT d.entity_type, d.entity_id, d.day FROM activity_daily d
    JOIN a ON d.entity_type = a.entity_type AND d.entity_id = a.entity_id
  ),
  span AS (SELECT entity_type, entity_id, min(day) AS lo, max(day) AS hi FROM r GROUP BY 1, 2)
  SELECT s.entity_type, s.entity_id, s.lo, s.hi,
         bit_or(set_bit(signaltag_zero_bits(s.hi - s.lo + 1), r.day - s.lo, 1))
  FROM r JOIN span s ON s.entity_type = r.entity_type AND s.entity_id = r.entity_id
  GROUP BY 1, 2, 3, 4;
END $$;
--> statement-breakpoint
-- New rollup rows only ever add active days: their bits are ORed into the summary, no rollup is re-read.
-- Bitmaps are built with hash aggregates (span per entity, then an OR of one set bit per row): no sorts.
CREATE FUNCTION signaltag_summary_after_insert() RETURNS trigger
  LANGUAGE plpgsql SET work_mem = '64MB'
  AS $$
BEGIN
  INSERT INTO activity_summary AS s (entity_type, entity_id, first_day, last_day, days)
  WITH span AS (SELECT entity_type, entity_id, min(day) AS lo, max(day) AS hi FROM new_rows GROUP BY 1, 2)
  SELECT p.entity_type, p.entity_id, p.lo, p.hi,
         bit_or(set_bit(signaltag_zero_bits(p.hi - p.lo + 1), n.day - p.lo, 1))
  FROM new_rows n JOIN span p ON p.entity_type = n.entity_type AND p.entity_id = n.entity_id
  GROUP BY 1, 2, 3, 4
  ON CONFLICT (entity_type, entity_id) DO UPDATE SET
    first_day = least(s.first_day, excluded.first_day),
    last_day = greatest(s.last_day, excluded.last_day),
    days = (signaltag_zero_bits(s.first_day - least(s.first_day, excluded.first_day)) || s.days
              || signaltag_zero_bits(greatest(s.last_day, excluded.last_day) - s.last_day))
         | (signaltag_zero_bits(excluded.first_day - least(s.first_day, excluded.first_day)) || excluded.days
              || signaltag_zero_bits(greatest(s.last_day, excluded.last_day) - excluded.last_day));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION signaltag_summary_after_delete() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM signaltag_summary_refresh(array_agg(entity_type), array_agg(entity_id))
  FROM (SELECT DISTINCT entity_type, entity_id FROM old_rows) a;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Count updates change no active day; only entities whose (entity, day) keys changed are recomputed.
CREATE FUNCTION signaltag_summary_after_update() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM signaltag_summary_refresh(array_agg(entity_type), array_agg(entity_id))
  FROM (
    SELECT DISTINCT entity_type, entity_id FROM (
      (SELECT entity_type, entity_id, day FROM old_rows EXCEPT SELECT entity_type, entity_id, day FROM new_rows)
      UNION ALL
      (SELECT entity_type, entity_id, day FROM new_rows EXCEPT SELECT entity_type, entity_id, day FROM old_rows)
    ) changed
  ) a
  HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION signaltag_summary_after_truncate() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  TRUNCATE activity_summary;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER activity_summary_insert AFTER INSERT ON activity_daily
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_summary_after_insert();
--> statement-breakpoint
CREATE TRIGGER activity_summary_delete AFTER DELETE ON activity_daily
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_summary_after_delete();
--> statement-breakpoint
CREATE TRIGGER activity_summary_update AFTER UPDATE ON activity_daily
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_summary_after_update();
--> statement-breakpoint
CREATE TRIGGER activity_summary_truncate AFTER TRUNCATE ON activity_daily
  FOR EACH STATEMENT EXECUTE FUNCTION signaltag_summary_after_truncate();
--> statement-breakpoint
-- Summaries of the rollups already there.
SELECT signaltag_summary_refresh(array_agg(entity_type), array_agg(entity_id))
FROM (SELECT DISTINCT entity_type, entity_id FROM activity_daily) a;
