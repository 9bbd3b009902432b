import { TZDate } from "@date-fns/tz";
import { InputError } from "../errors/index.ts";
import { isCalendarDate, parseInstant } from "../facts/time.ts";

/**
 * The instant a membership question is asked at: an ISO-8601 instant, or a
 * calendar date meaning the end of that day in the workspace time zone (who
 * had the tag on that date, after the day's changes).
 */
export function parseMembershipInstant(text: string, timezone: string, field = "asOf"): Date {
  const trimmed = text.trim();
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(trimmed);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    if (isCalendarDate(y, m, d)) {
      return new Date(new TZDate(y, m - 1, d + 1, timezone).getTime() - 1);
    }
  }
  const instant = parseInstant(trimmed);
  if (!instant || day) {
    throw new InputError(
      `${field} ${JSON.stringify(text)} is not a date (2026-01-31) or an ISO-8601 instant (2026-01-31T12:00:00Z)`,
      { details: { field } },
    );
  }
  return instant;
}
