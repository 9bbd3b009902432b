import type { DbOrTx } from "../db/client.ts";
import type { EntityType } from "../facts/catalog.ts";
import { entityExists } from "../facts/sql/entities.ts";
import { addDays, calendarDate } from "../facts/time.ts";
import { entityNotFound } from "./manual.ts";
import { dailyTotals } from "./sql/activity.ts";

export interface RecentActivity {
  /** The last day of the window, in the workspace's time zone. */
  today: string;
  days: { day: string; events: number }[];
  /** Days with at least one event in the window: the activeDays fact over the same window. */
  activeDays: number;
  events: number;
}

/** An entity's events per day over the last `window` days ending today, every day present (zero when idle). */
export async function recentActivity(
  db: DbOrTx,
  p: { type: EntityType; id: string; now: Date; timezone: string; window: number },
): Promise<RecentActivity> {
  const today = calendarDate(p.now, p.timezone);
  const from = addDays(today, 1 - p.window);
  const [exists, totals] = await Promise.all([
    entityExists(db, p.type, p.id),
    dailyTotals(db, { type: p.type, id: p.id, from, to: today }),
  ]);
  if (!exists) throw entityNotFound(p.type, p.id);
  const byDay = new Map(totals.map((t) => [t.day, Number(t.events)]));
  const days = Array.from({ length: p.window }, (_, i) => {
    const day = addDays(from, i);
    return { day, events: byDay.get(day) ?? 0 };
  });
  return {
    today,
    days,
    activeDays: days.filter((d) => d.events > 0).length,
    events: days.reduce((s, d) => s + d.events, 0),
  };
}
