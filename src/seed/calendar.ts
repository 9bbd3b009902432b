import { TZDate } from "@date-fns/tz";

const DAY_MS = 86_400_000;

/**
 * The calendar the generator works in: day k is k calendar days before
 * today (today is the as-of instant's date in the workspace time zone). Day
 * boundaries are real instants, so days of 23 or 25 hours are handled.
 */
export class Calendar {
  /** The as-of instant in ms; nothing is generated after it. */
  readonly asOf: number;
  readonly timezone: string;
  /** Today's date, `YYYY-MM-DD`. */
  readonly today: string;
  private readonly y: number;
  private readonly m: number;
  private readonly d: number;
  /** starts[k + 1] is the first instant of day k; starts[0] is tomorrow's. */
  private readonly starts: number[];

  constructor(asOf: Date, timezone: string, span: number) {
    this.asOf = asOf.getTime();
    this.timezone = timezone;
    const local = new TZDate(this.asOf, timezone);
    this.y = local.getFullYear();
    this.m = local.getMonth();
    this.d = local.getDate();
    this.today = this.date(0);
    this.starts = [];
    for (let k = -1; k < span; k++) this.starts.push(this.computeStart(k));
  }

  private computeStart(k: number): number {
    return new TZDate(this.y, this.m, this.d - k, this.timezone).getTime();
  }

  /** The first instant of day k. */
  start(k: number): number {
    return this.starts[k + 1] ?? this.computeStart(k);
  }

  /** The first instant after day k. */
  end(k: number): number {
    return this.start(k - 1);
  }

  /** Day k as `YYYY-MM-DD` (k may be negative for dates after today). */
  date(k: number): string {
    return new Date(Date.UTC(this.y, this.m, this.d - k)).toISOString().slice(0, 10);
  }

  /** True for Saturdays and Sundays. */
  weekend(k: number): boolean {
    const dow = new Date(Date.UTC(this.y, this.m, this.d - k)).getUTCDay();
    return dow === 0 || dow === 6;
  }

  /** The day index of an instant at or before the as-of instant. */
  dayOf(instant: number): number {
    // Days are 23 to 25 hours long, so the estimate is off by at most one day.
    let k = Math.max(0, Math.floor((this.end(0) - instant) / DAY_MS));
    while (this.start(k) > instant) k++;
    while (k > 0 && this.end(k) <= instant) k--;
    return k;
  }

  /** The date (`YYYY-MM-DD`) of an instant, in the workspace time zone. */
  dateOf(instant: number): string {
    return this.date(this.dayOf(instant));
  }
}

export { DAY_MS };
