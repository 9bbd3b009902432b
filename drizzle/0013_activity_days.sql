-- Daily rollups stored one row per (entity, day), their counts per activity
-- and module in parallel arrays (see src/db/schema/activity-days.ts);
-- activity_daily becomes a view with the old row per key.
CREATE TABLE "activity_days" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"day" date NOT NULL,
	"activities" text[] NOT NULL,
	"modules" text[] NOT NULL,
	"counts" bigint[] NOT NULL,
	CONSTRAINT "activity_days_entity_type_entity_id_day_pk" PRIMARY KEY("entity_type","entity_id","day"),
	CONSTRAINT "activity_days_arrays" CHECK (cardinality("activity_days"."activities") > 0 and cardinality("activity_days"."modules") = cardinality("activity_days"."activities")
          and cardinality("activity_days"."counts") = cardinality("activity_days"."activities"))
);
--> statement-breakpoint
-- The rollups already there (before any trigger: the summary and the change log stay as they are).
INSERT INTO activity_days (entity_type, entity_id, day, activities, modules, counts)
SELECT entity_type, entity_id, day, array_agg(activity ORDER BY activity, module),
       array_agg(module ORDER BY activity, module), array_agg(count ORDER BY activity, module)
FROM activity_daily
GROUP BY entity_type, entity_id, day
ORDER BY entity_type, entity_id, day;
--> statement-breakpoint
DROP TABLE activity_daily;
--> statement-breakpoint
CREATE VIEW activity_daily AS
SELECT d.entity_type, d.entity_id, d.day, r.activity, r.module, r.count
FROM activity_days d
CROSS JOIN LATERAL unnest(d.activities, d.modules, d.counts) AS r(activity, module, count);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION signaltag_summary_refresh(types text[], ids text[]) RETURNS void
  LANGUAGE plpgsql SET work_mem = '64MB'
  AS $$
BEGIN
  DELETE FROM activity_summary s
  USING unnest(types, ids) AS a(entity_type, entity_id)
  WHERE s.entity_type = a.entity_type AND s.entity_id = a.entity_id;
  INSERT INTO activity_summary (entity_type, entity_id, first_day, last_day, days)
  WITH a AS (SELECT DISTINCT * FROM unnest(types, ids) AS u(entity_type, entity_id)),
  r AS (
    SELECT d.entity_type, d.entity_id, d.day FROM activity_days d
    JOIN a ON d.entity_type = a.entity_type AND d.entity_id = a.entity_id
  ),
  span AS (SELECT entity_type, entity_id, min(day) AS lo, max(day) AS hi FROM r GROUP BY 1, 2)
  SELECT s.entity_type, s.entity_id, s.lo, s.hi,
         bit_or(set_bit(signaltag_zero_bits(s.hi - s.lo + 1), r.day - s.lo, 1))
  FROM r JOIN span s ON s.entity_type = r.entity_type AND s.entity_id = r.entity_id
  GROUP BY 1, 2, 3, 4;
END $$;
--> statement-breakpoint
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
-- New day rows: their entities' summaries gain the days, and the entities are
-- logged as changed, from one aggregate per entity over new_rows (the summary
-- and the change log each read it on their own before: on 480k new rows of a
-- 2M-event import about 0.15 s more). The bitmap of a statement whose days
-- span under 64 is built in a bigint, one shift per row; wider spans set bits
-- in a bitmap of the statement's span; spans over 4096 days (a backfill of
-- decades) take each entity's own span, so no row builds a bitmap that wide.
CREATE FUNCTION signaltag_activity_days_after_insert() RETURNS trigger
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
  IF hi - lo < 64 THEN
    WITH e AS (
      SELECT n.entity_type, n.entity_id, min(n.day) AS f, max(n.day) AS l,
             bit_or(1::bigint << (63 - (n.day - lo))) AS bits
      FROM new_rows n GROUP BY n.entity_type, n.entity_id),
    logged AS (INSERT INTO entity_changes (entity_type, entity_id, kind) SELECT entity_type, entity_id, 'activity' FROM e)
    SELECT 1 INTO done FROM (
      SELECT signaltag_summary_add(array_agg(entity_type), array_agg(entity_id), array_agg(f), array_agg(l),
               array_agg(substring(bits::bit(64) FROM f - lo + 1 FOR l - f + 1)))
      FROM e) x;
  ELSIF hi - lo < 4096 THEN
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
CREATE TRIGGER activity_days_insert AFTER INSERT ON activity_days
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_activity_days_after_insert();
--> statement-breakpoint
CREATE TRIGGER activity_summary_delete AFTER DELETE ON activity_days
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_summary_after_delete();
--> statement-breakpoint
CREATE TRIGGER activity_summary_update AFTER UPDATE ON activity_days
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_summary_after_update();
--> statement-breakpoint
CREATE TRIGGER activity_summary_truncate AFTER TRUNCATE ON activity_days
  FOR EACH STATEMENT EXECUTE FUNCTION signaltag_summary_after_truncate();
--> statement-breakpoint
CREATE TRIGGER activity_log_update AFTER UPDATE ON activity_days
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_activity_changes();
--> statement-breakpoint
CREATE TRIGGER activity_log_delete AFTER DELETE ON activity_days
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_activity_changes();
--> statement-breakpoint
CREATE TRIGGER activity_log_truncate AFTER TRUNCATE ON activity_days FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_reset();
