import { DAY_SECONDS, daysFromCivil } from "./time.ts";

const HOUR = 3600;

/**
 * A time zone's UTC offset per hour as this process reads it (Intl), for
 * putting events on their calendar day there. An hour whose offset changes
 * within it, or one Intl cannot place in years AD, has no offset here: the
 * caller then leaves the days to Postgres.
 */
export class ZoneOffsets {
  /** UTC offset in seconds per hour since 1970, for every hour asked about. */
  readonly offsets = new Map<number, number>();
  /** Why an offset could not be told (the first reason), or undefined. */
  problem: string | undefined;
  private readonly format: Intl.DateTimeFormat | undefined;

  constructor(timezone: string) {
    try {
      this.format = new Intl.DateTimeFormat("en-US", {
        timeZone: timezone,
        hourCycle: "h23",
        era: "short",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      this.problem = `the time zone ${timezone} is unknown here`;
    }
  }

  /** The zone's offset in seconds throughout hour `hour` since 1970, or undefined (see problem). */
  at(hour: number): number | undefined {
    const known = this.offsets.get(hour);
    if (known !== undefined) return known;
    const start = this.localOffset(hour * HOUR);
    const end = this.localOffset(hour * HOUR + HOUR - 1);
    if (start === undefined || start !== end) {
      this.problem ??= "the time zone's offset changes within an hour";
      return undefined;
    }
    this.offsets.set(hour, start);
    return start;
  }

  private localOffset(seconds: number): number | undefined {
    if (!this.format) return undefined;
    const parts = this.format.formatToParts(new Date(seconds * 1000));
    const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
    const era = parts.find((p) => p.type === "era");
    if (era && era.value !== "AD") return undefined;
    const local =
      daysFromCivil(part("year"), part("month"), part("day")) * DAY_SECONDS +
      part("hour") * HOUR +
      part("minute") * 60 +
      part("second");
    return Number.isFinite(local) ? local - seconds : undefined;
  }
}
