import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { LoadedRule } from "../rules/types.ts";
import { type RunRulePayload, runRuleJob } from "./run-rule.ts";

/** Job scheduler ids for rules: one per enabled rule with a schedule. */
export const SCHEDULER_PREFIX = "rule-";

function schedulerId(ruleId: string): string {
  return `${SCHEDULER_PREFIX}${ruleId}`;
}

export interface ScheduleChange {
  ruleId: string;
  action: "added" | "updated" | "removed" | "unchanged";
  cron?: string;
  timezone?: string;
  /** When the scheduler fires next (ms since the epoch), when known. */
  next?: number;
}

/**
 * Makes the rules queue's job schedulers match the rule files: one per
 * enabled rule with a schedule, firing a run of that rule at its cron in its
 * time zone. Schedulers of removed or disabled rules, or rules without a
 * schedule, are removed; a changed schedule is updated; an unchanged one is
 * left alone, so syncing twice changes nothing.
 */
export async function syncSchedulers(queue: Queue, rules: readonly LoadedRule[]): Promise<ScheduleChange[]> {
  const wanted = new Map(
    rules
      .filter((r) => r.definition.enabled && r.definition.schedule)
      .map((r) => [schedulerId(r.definition.id), r.definition]),
  );
  const existing = (await queue.getJobSchedulers(0, -1, true)).filter((s) =>
    s.key.startsWith(SCHEDULER_PREFIX),
  );
  const changes: ScheduleChange[] = [];
  for (const s of existing) {
    if (wanted.has(s.key)) continue;
    await queue.removeJobScheduler(s.key);
    changes.push({ ruleId: s.key.slice(SCHEDULER_PREFIX.length), action: "removed" });
  }
  for (const [id, def] of wanted) {
    const schedule = def.schedule!;
    const current = existing.find((s) => s.key === id);
    const data: RunRulePayload = { ruleId: def.id, trigger: "schedule" };
    const same =
      current !== undefined &&
      current.pattern === schedule.cron &&
      (current.tz ?? "UTC") === schedule.timezone &&
      current.name === runRuleJob.name &&
      JSON.stringify(current.template?.data ?? null) === JSON.stringify(data);
    if (same) {
      changes.push({
        ruleId: def.id,
        action: "unchanged",
        cron: schedule.cron,
        timezone: schedule.timezone,
        ...(current.next ? { next: current.next } : {}),
      });
      continue;
    }
    await queue.upsertJobScheduler(
      id,
      { pattern: schedule.cron, tz: schedule.timezone },
      { name: runRuleJob.name, data, opts: runRuleJob.options },
    );
    const next = (await queue.getJobScheduler(id))?.next;
    changes.push({
      ruleId: def.id,
      action: current ? "updated" : "added",
      cron: schedule.cron,
      timezone: schedule.timezone,
      ...(next ? { next } : {}),
    });
  }
  return changes.sort((a, b) => a.ruleId.localeCompare(b.ruleId));
}

/** How often a worker checks its schedulers are still in Redis, besides at every reconnect. */
export const SCHEDULE_CHECK_MS = 60_000;

/**
 * Keeps a worker's job schedulers in Redis: a Redis that lost its data (a
 * restart without persistence, a failover to an empty replica) comes back
 * without them, and nothing would fire until a worker restarted or someone
 * ran `signaltag schedule sync`. `sync` runs again at every reconnect of
 * `redis` and every SCHEDULE_CHECK_MS; it is idempotent (syncSchedulers
 * leaves an unchanged scheduler alone), so several workers may do it at once.
 * Returns the function that stops it.
 */
export function keepSchedules(
  redis: Pick<Redis, "on" | "off">,
  sync: () => Promise<ScheduleChange[]>,
  log: (line: string) => void,
): () => void {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const check = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = sync()
      .then((changes) => {
        const changed = changes.filter((c) => c.action !== "unchanged");
        if (changed.length) {
          log(`schedulers: put back ${changed.map((c) => `${c.ruleId} ${c.action}`).join(", ")}`);
        }
      })
      .catch((err: unknown) => {
        // Redis is away again: the next reconnect or check tries again.
        log(`schedulers: not checked (${err instanceof Error ? err.message : String(err)})`);
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          check();
        }
      });
  };
  const timer = setInterval(check, SCHEDULE_CHECK_MS);
  timer.unref();
  redis.on("ready", check);
  return () => {
    stopped = true;
    clearInterval(timer);
    redis.off("ready", check);
  };
}
