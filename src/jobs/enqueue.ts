import { createHash, randomUUID } from "node:crypto";
import { Job, type JobsOptions, type Queue } from "bullmq";
import type { EntityType } from "../facts/catalog.ts";
import type { QueueSet } from "./connection.ts";
import { JOB_NAMES } from "./names.ts";
import { DEFAULT_JOB_OPTIONS } from "./options.ts";
import {
  type EvaluateEntitiesPayload,
  MAX_ENTITY_BATCH,
  type RunAllPayload,
  type RunRulePayload,
} from "./payloads.ts";

type Trigger = "manual" | "schedule" | "api" | "event";

/** A job as it was asked for: which job will answer the request, and whether it was already queued. */
export interface Enqueued {
  queue: Queue;
  /** The id this request's job was given. */
  jobId: string;
  /** The job that carries the request: this one, or the one already waiting that it was folded into. */
  effectiveId: string;
  deduplicationId: string;
  deduplicated: boolean;
}

async function addDeduplicated(
  queue: Queue,
  name: string,
  data: unknown,
  opts: JobsOptions & { deduplication: NonNullable<JobsOptions["deduplication"]> },
): Promise<Enqueued> {
  const jobId = randomUUID();
  const job = await queue.add(name, data, { ...DEFAULT_JOB_OPTIONS, ...opts, jobId });
  return {
    queue,
    jobId,
    effectiveId: job.id ?? jobId,
    deduplicationId: opts.deduplication.id,
    deduplicated: job.id !== jobId,
  };
}

/**
 * Queues a run of the given rules (all enabled rules when none are named).
 * A run of the same rules as of the same instant that is still waiting takes
 * this request in; one already running gets at most one successor, so a
 * change that arrives during a run is never lost.
 */
export async function enqueueRun(
  queues: QueueSet,
  req: { ruleIds: string[]; asOf?: Date; force?: boolean; full?: boolean; trigger: Trigger },
): Promise<Enqueued> {
  const ids = [...new Set(req.ruleIds)].sort();
  const asOf = req.asOf?.toISOString();
  const key = `run.${ids.length ? ids.join(",") : "all"}.${asOf ?? "now"}${req.force ? ".force" : ""}${req.full ? ".full" : ""}`;
  const common = {
    ...(asOf ? { asOf } : {}),
    trigger: req.trigger,
    ...(req.force ? { force: true } : {}),
    ...(req.full ? { full: true } : {}),
  };
  const deduplication = { id: key, keepLastIfActive: true };
  if (ids.length === 1) {
    const data: RunRulePayload = { ruleId: ids[0]!, ...common };
    return addDeduplicated(queues.rules, JOB_NAMES.runRule, data, { deduplication });
  }
  const data: RunAllPayload = { ...(ids.length ? { ruleIds: ids } : {}), ...common };
  return addDeduplicated(queues.rules, JOB_NAMES.runAll, data, { deduplication });
}

/**
 * Queues re-evaluations of entities of one type, at most MAX_ENTITY_BATCH
 * per job. Debounced: a job for the same entities still waiting out its delay
 * is replaced and its delay starts again; one already running gets one
 * successor. With `delayMs` 0 the job runs at once (on-demand). With
 * `testingTags` only the rules that read the `tags` fact run; such a job
 * never replaces one that runs them all.
 */
export async function enqueueEntities(
  queues: QueueSet,
  type: EntityType,
  ids: readonly string[],
  opts: { trigger: Trigger; delayMs: number; testingTags?: boolean },
): Promise<Enqueued[]> {
  const sorted = [...new Set(ids)].sort();
  const out: Enqueued[] = [];
  for (let i = 0; i < sorted.length; i += MAX_ENTITY_BATCH) {
    const batch = sorted.slice(i, i + MAX_ENTITY_BATCH);
    const key =
      (batch.length === 1
        ? `entity.${type}.${batch[0]}`
        : `entities.${type}.${createHash("sha256").update(batch.join("\n")).digest("hex").slice(0, 24)}`) +
      (opts.testingTags ? ".tags" : "");
    const data: EvaluateEntitiesPayload = {
      type,
      ids: batch,
      trigger: opts.trigger,
      ...(opts.testingTags ? { testingTags: true } : {}),
    };
    out.push(
      await addDeduplicated(queues.entities, JOB_NAMES.evaluateEntities, data, {
        delay: opts.delayMs,
        deduplication: { id: key, replace: true, keepLastIfActive: true },
      }),
    );
  }
  return out;
}

/** What an import changed, as the activity module reports it. */
export interface Touched {
  accounts: string[];
  users: string[];
  /** False when the import touched more entities than were listed. */
  complete: boolean;
}

/**
 * Event-driven re-evaluation after an import: debounced jobs for the touched
 * users and accounts, or, when the import touched more than it listed, one
 * run of all rules (cheaper than thousands of entity jobs, and complete).
 */
export async function enqueueTouched(
  queues: QueueSet,
  touched: Touched,
  opts: { debounceMs: number; trigger?: Trigger },
): Promise<Enqueued[]> {
  const trigger = opts.trigger ?? "event";
  if (!touched.complete) return [await enqueueRun(queues, { ruleIds: [], trigger })];
  return [
    ...(await enqueueEntities(queues, "account", touched.accounts, { trigger, delayMs: opts.debounceMs })),
    ...(await enqueueEntities(queues, "user", touched.users, { trigger, delayMs: opts.debounceMs })),
  ];
}

export interface JobOutcome {
  id: string;
  state: "completed" | "failed";
  returnvalue: unknown;
  failedReason?: string;
  attemptsMade: number;
}

/**
 * Waits until the job carrying a request has finished. When the request was
 * folded into a job that was already running, the run that answers it is the
 * successor created when that job finished, which is waited for in turn.
 */
export async function waitForEnqueued(
  enqueued: Enqueued,
  opts: { timeoutMs?: number; pollMs?: number } = {},
): Promise<JobOutcome> {
  const deadline = Date.now() + (opts.timeoutMs ?? 24 * 3600_000);
  let target = enqueued.effectiveId;
  const seen = new Set<string>();
  for (;;) {
    seen.add(target);
    const outcome = await waitForJob(enqueued.queue, target, { deadline, pollMs: opts.pollMs });
    if (target === enqueued.jobId) return outcome;
    if (await Job.fromId(enqueued.queue, enqueued.jobId)) {
      target = enqueued.jobId;
      continue;
    }
    const current = await enqueued.queue.getDeduplicationJobId(enqueued.deduplicationId);
    if (current && !seen.has(current)) {
      target = current;
      continue;
    }
    return outcome;
  }
}

/**
 * Polls a job's state until it is completed or failed. Polling starts fast and
 * slows down, so a quick job is seen within milliseconds and a long one costs
 * a few Redis calls a second. A poll is one call (the job's state); the job
 * itself is read once, when it has finished.
 */
export async function waitForJob(
  queue: Queue,
  jobId: string,
  opts: { deadline: number; pollMs?: number },
): Promise<JobOutcome> {
  let interval = 2;
  const maxInterval = opts.pollMs ?? 250;
  for (;;) {
    const state = await queue.getJobState(jobId);
    if (state === "completed" || state === "failed") {
      const done = await Job.fromId(queue, jobId);
      return {
        id: jobId,
        state,
        returnvalue: done?.returnvalue,
        ...(done?.failedReason ? { failedReason: done.failedReason } : {}),
        attemptsMade: done?.attemptsMade ?? 0,
      };
    }
    if (Date.now() > opts.deadline) throw new Error(`job ${jobId} did not finish in time`);
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(maxInterval, Math.ceil(interval * 1.5));
  }
}
