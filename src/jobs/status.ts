import type { Queue } from "bullmq";
import { CronExpressionParser } from "cron-parser";
import type { DbOrTx } from "../db/client.ts";
import type { LoadedRule } from "../rules/types.ts";
import { type LastRun, lastRuns } from "../runs/sql/last-runs.ts";
import { storedPartitionRuns } from "../runs/sql/partitions.ts";
import type { QueueSet } from "./connection.ts";
import { partitionJobId } from "./evaluate-partition.ts";
import { QUEUES } from "./queues.ts";
import { runAllJob } from "./run-all.ts";
import { runRuleJob } from "./run-rule.ts";
import { SCHEDULER_PREFIX } from "./scheduler.ts";

export interface RuleStatus {
  rule: string;
  tag: string;
  target: "user" | "account";
  enabled: boolean;
  schedule?: { cron: string; timezone: string };
  /** The rule's last full run (re-evaluations of single entities are not counted). */
  lastRun?: LastRun;
  lastSuccessAt?: string;
  /** When its job scheduler fires next (unknown without Redis). */
  nextRunAt?: string;
  /** Jobs waiting, delayed or running that will run this rule (unknown without Redis). */
  queued?: number;
  stale: boolean;
  staleReason?: string;
}

/** A partitioned run whose partitions are stored but whose jobs Redis no longer has: it will never finish. */
export interface AbandonedRun {
  rule: string;
  runKey: string;
  partitions: number;
  lastPartitionAt: string;
}

export interface QueueStatus {
  rules: RuleStatus[];
  /** Job counts per queue by state; undefined without Redis. */
  queues?: Record<string, Record<string, number>>;
  /** Undefined without Redis (only Redis knows whether a run is still under way). */
  abandonedRuns?: AbandonedRun[];
}

/** The interval between two firings of a cron expression after `now`. */
function scheduleIntervalMs(cron: string, timezone: string, now: Date): number {
  const expression = CronExpressionParser.parse(cron, { tz: timezone, currentDate: now });
  const first = expression.next().getTime();
  const second = expression.next().getTime();
  return second - first;
}

const PENDING_STATES = ["waiting", "delayed", "active", "waiting-children", "prioritized"] as const;

/** What `signaltag status` shows: per rule its last run, next firing, queued jobs and whether it is stale. */
export async function collectStatus(
  db: DbOrTx,
  rules: readonly LoadedRule[],
  queues: QueueSet | undefined,
  now: Date,
): Promise<QueueStatus> {
  const last = await lastRuns(
    db,
    rules.map((r) => r.definition.id),
  );
  const lastByRule = new Map(last.map((r) => [r.rule_id, r]));

  let next = new Map<string, number>();
  let queued = new Map<string, number>();
  let queueCounts: QueueStatus["queues"];
  if (queues) {
    next = await schedulerNext(queues.rules);
    queued = await queuedRuns(queues.rules, rules);
    queueCounts = {};
    for (const name of Object.values(QUEUES)) {
      queueCounts[name] = await queues.get(name).getJobCounts(...PENDING_STATES, "completed", "failed");
    }
  }

  const statuses = rules.map((loaded): RuleStatus => {
    const def = loaded.definition;
    const run = lastByRule.get(def.id);
    const status: RuleStatus = {
      rule: def.id,
      tag: def.tag,
      target: def.target,
      enabled: def.enabled,
      ...(def.schedule ? { schedule: def.schedule } : {}),
      stale: false,
    };
    if (run) {
      const { rule_id: _r, last_success, ...lastRun } = run;
      status.lastRun = lastRun;
      if (last_success) status.lastSuccessAt = last_success;
    }
    const at = next.get(def.id);
    if (at !== undefined) status.nextRunAt = new Date(at).toISOString();
    if (queues) status.queued = queued.get(def.id) ?? 0;
    if (run?.status === "failed") {
      status.stale = true;
      status.staleReason = "last run failed";
    } else if (def.enabled && def.schedule) {
      const interval = scheduleIntervalMs(def.schedule.cron, def.schedule.timezone, now);
      const success = status.lastSuccessAt ? Date.parse(status.lastSuccessAt) : undefined;
      if (success === undefined) {
        status.stale = true;
        status.staleReason = "no successful run yet";
      } else if (now.getTime() - success > 2 * interval) {
        status.stale = true;
        status.staleReason = `last success more than twice the schedule interval ago (${formatDuration(2 * interval)})`;
      }
    }
    return status;
  });
  const abandonedRuns = queues ? await findAbandonedRuns(db, queues) : undefined;
  return {
    rules: statuses,
    ...(queueCounts ? { queues: queueCounts } : {}),
    ...(abandonedRuns ? { abandonedRuns } : {}),
  };
}

/**
 * Runs whose stored partitions outlived their jobs: Redis lost its data (a
 * restart without persistence, a failover to an empty replica) while the run
 * was fanned out. A live run's newest partition job is still in Redis (finished
 * jobs are kept a day); an abandoned run's rows are inert and dropped after a
 * day, and the run has to be enqueued again. Looks at the 100 newest runs.
 */
async function findAbandonedRuns(db: DbOrTx, queues: QueueSet): Promise<AbandonedRun[]> {
  const abandoned: AbandonedRun[] = [];
  for (const run of await storedPartitionRuns(db, 100)) {
    const job = await queues.get(QUEUES.partitions).getJob(partitionJobId(run.run_key, run.newest_partition));
    if (job) continue;
    abandoned.push({
      rule: run.rule_id,
      runKey: run.run_key,
      partitions: run.partitions,
      lastPartitionAt: run.last_at,
    });
  }
  return abandoned;
}

async function schedulerNext(queue: Queue): Promise<Map<string, number>> {
  const schedulers = await queue.getJobSchedulers(0, -1, true);
  const next = new Map<string, number>();
  for (const s of schedulers) {
    if (s.key.startsWith(SCHEDULER_PREFIX) && s.next) next.set(s.key.slice(SCHEDULER_PREFIX.length), s.next);
  }
  return next;
}

/** Pending run jobs per rule; a run of all rules counts for each enabled rule. Looks at most at 1000 jobs. */
async function queuedRuns(queue: Queue, rules: readonly LoadedRule[]): Promise<Map<string, number>> {
  // A scheduler's next firing waits as a delayed job; it is shown as the next run, not as queued.
  const jobs = [
    ...(await queue.getJobs(["waiting", "active", "waiting-children", "prioritized"], 0, 999)),
    ...(await queue.getJobs(["delayed"], 0, 999)).filter((job) => job && !job.repeatJobKey),
  ];
  const enabled = rules.filter((r) => r.definition.enabled).map((r) => r.definition.id);
  const counts = new Map<string, number>();
  const bump = (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const job of jobs) {
    if (!job) continue;
    const data = (job.data ?? {}) as { ruleId?: unknown; ruleIds?: unknown };
    if (job.name === runRuleJob.name && typeof data.ruleId === "string") bump(data.ruleId);
    else if (job.name === runAllJob.name) {
      const ids = Array.isArray(data.ruleIds) ? data.ruleIds.filter((x) => typeof x === "string") : enabled;
      for (const id of ids) bump(id);
    }
  }
  return counts;
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.round(h / 24)} d`;
}
