import { type SQL, sql } from "drizzle-orm";

/**
 * Facts over an entity's activity summary row (`activity_summary`): its
 * active days as a bitmap, bit i set when the entity was active on
 * first_day + i, and its last active day.
 */

/**
 * Active days of a summary row in the window of `days` days ending on `today`
 * (a date expression):
 * the set bits of that slice of the bitmap (bit i is first_day + i). Null
 * without a summary row.
 */
export function activeDaysIn(summary: SQL, today: SQL, days: number | SQL): SQL {
  return sql`bit_count(substring(${summary}.days from (${today} - ${summary}.first_day) - ${days}::int + 2 for ${days}::int))::int`;
}

/** The last active day on or before `today` (a date expression), from a summary row; null when there is none. */
export function lastActiveDay(summary: SQL, today: SQL): SQL {
  return sql`(case when ${summary}.last_day <= ${today} then ${summary}.last_day
    else ${summary}.first_day - 1 + nullif(length(rtrim(substring(${summary}.days from 1
      for greatest(${today} - ${summary}.first_day + 1, 0))::text, '0')), 0) end)`;
}
