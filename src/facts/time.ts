/**
 * Calendar-day arithmetic for facts. Days are `YYYY-MM-DD` strings in the
 * workspace time zone; arithmetic on them is done in UTC so that DST never
 * shifts a day.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar date of `instant` in `timezone`. */
export function calendarDate(instant: Date, timezone: string): string {
  let fmt = formatters.get(timezone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat("en-CA", {
      timeZone: timezone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    });
    formatters.set(timezone, fmt);
  }
  const parts = fmt.formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

function dayNumber(day: string): number {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

/** `a - b` in whole calendar days. */
export function daysBetween(a: string, b: string): number {
  return Math.round(dayNumber(a) - dayNumber(b));
}

export function addDays(day: string, n: number): string {
  return new Date((dayNumber(day) + n) * 86_400_000).toISOString().slice(0, 10);
}

/** The window of the last `days` days: dates d with today - days < d <= today. */
export function inWindow(day: string, today: string, days: number): boolean {
  const diff = daysBetween(today, day);
  return diff >= 0 && diff < days;
}

/**
 * Whether a calendar date exists, in years 1 to 9999 (what Postgres and ISO
 * dates hold without surprises): 2027-02-30 and year 0 do not. Date.UTC would
 * roll the first into March and map years 0-99 to 1900-1999.
 */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  if (!(year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1)) return false;
  const check = new Date(0);
  check.setUTCFullYear(year, month - 1, day);
  return check.getUTCMonth() === month - 1 && check.getUTCDate() === day;
}

/**
 * Parses an ISO-8601 instant given on the command line or in a request.
 * Impossible dates and times (2027-02-30, 24:00) and years outside 1..9999
 * are refused rather than rolled over.
 */
export function parseInstant(text: string): Date | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
      text.trim(),
    );
  if (!match) return undefined;
  const [y, mo, d, h = "0", mi = "0", sec = "0"] = match.slice(1);
  if (!isCalendarDate(Number(y), Number(mo), Number(d))) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  const trimmed = text.trim().replace(" ", "T");
  // Without an offset an instant is read as UTC, never as the machine's local time.
  const value = new Date(
    /(Z|[+-]\d{2}:?\d{2})$/.test(trimmed) || trimmed.length === 10 ? trimmed : `${trimmed}Z`,
  );
  return Number.isNaN(value.getTime()) ? undefined : value;
}
