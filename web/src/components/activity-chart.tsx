export interface Activity {
  today: string;
  activeDays: number;
  events: number;
  days: { day: string; events: number }[];
}

/** Events per day as bars; the numbers are in the title of each bar and in the summary line. */
export function ActivityChart({ activity }: { activity: Activity }) {
  const max = Math.max(1, ...activity.days.map((d) => d.events));
  const w = 8;
  const h = 48;
  return (
    <figure className="activity">
      <svg
        viewBox={`0 0 ${activity.days.length * w} ${h}`}
        width="100%"
        height={h}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Events per day over the last ${activity.days.length} days, up to ${activity.today}: at most ${max} in a day`}
      >
        {activity.days.map((d, i) => {
          const bar = d.events === 0 ? 1 : Math.max(3, (d.events / max) * (h - 2));
          return (
            <rect
              key={d.day}
              x={i * w + 1}
              y={h - bar}
              width={w - 2}
              height={bar}
              className={d.events === 0 ? "idle" : "busy"}
            >
              <title>{`${d.day}: ${d.events} events`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption>
        Active on <strong>{activity.activeDays}</strong> of the last {activity.days.length} days ·{" "}
        {activity.events} events · {activity.days[0]?.day} to {activity.today}
      </figcaption>
    </figure>
  );
}
