import type { Queue } from "bullmq";
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
