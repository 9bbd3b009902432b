import { Job, type Queue } from "bullmq";
import type { Enqueued } from "./job-kind.ts";

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
