-- signaltag_summary_add of 0013 with its rows in key order: the tracking API's
-- commits run side by side, and two of them adding days to the same entities
-- must lock those summaries in the same order, so that one waits for the
-- other instead of both deadlocking. Imports (under the rollups' lock) go
-- through it too; the order changes nothing else for them.
CREATE OR REPLACE FUNCTION signaltag_summary_add(types text[], ids text[], firsts date[], lasts date[], bitmaps bit varying[])
  RETURNS void
  LANGUAGE sql
  AS $$
  INSERT INTO activity_summary AS s (entity_type, entity_id, first_day, last_day, days)
  SELECT a.entity_type, a.entity_id, a.first_day, a.last_day, a.days
  FROM unnest(types, ids, firsts, lasts, bitmaps) AS a(entity_type, entity_id, first_day, last_day, days)
  ORDER BY a.entity_type, a.entity_id
  ON CONFLICT (entity_type, entity_id) DO UPDATE SET
    first_day = least(s.first_day, excluded.first_day),
    last_day = greatest(s.last_day, excluded.last_day),
    days = (signaltag_zero_bits(s.first_day - least(s.first_day, excluded.first_day)) || s.days
              || signaltag_zero_bits(greatest(s.last_day, excluded.last_day) - s.last_day))
         | (signaltag_zero_bits(excluded.first_day - least(s.first_day, excluded.first_day)) || excluded.days
              || signaltag_zero_bits(greatest(s.last_day, excluded.last_day) - excluded.last_day))
$$;
