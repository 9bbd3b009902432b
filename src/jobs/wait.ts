import { Job, type Queue } from "bullmq";
import type { Enqueued } from "./job-kind.ts";

export interface JobOutcome {
  id: string;
  /** timed-out: the deadline passed first, and the job was left as it is (in `jobState`). */
  state: "completed" | "failed" | "timed-out";
  returnvalue?: unknown;
  failedReason?: string;
  attemptsMade: number;
  /** The job's state when the wait timed out: waiting, active, delayed... */
  jobState?: string;
}

export interface WaitOptions {
  timeoutMs?: number;
  pollMs?: number;
  /**
   * Told how many workers serve the job's queue: at the start when none do,
   * then each time that changes between none and some. Without it the
   * workers are not looked at.
   */
  onWorkers?: (connected: number) => void;
  /** How often the workers are looked at while waiting. */
  workerCheckMs?: number;
}

/**
 * Waits until the job carrying a request has finished, or the timeout passes.
 * When the request was folded into a job that was already running, the run
 * that answers it is the successor created when that job finished, which is
 * waited for in turn.
 */
export async function waitForEnqueued(enqueued: Enqueued, opts: WaitOptions = {}): Promise<JobOutcome> {
  const deadline = Date.now() + (opts.timeoutMs ?? 24 * 3600_000);
  const watch = opts.onWorkers
    ? new WorkerWatch(enqueued.queue, opts.workerCheckMs ?? 2000, opts.onWorkers)
    : undefined;
  let target = enqueued.effectiveId;
  const seen = new Set<string>();
  for (;;) {
    seen.add(target);
    const outcome = await waitForJob(enqueued.queue, target, { deadline, pollMs: opts.pollMs, watch });
    if (outcome.state === "timed-out" || target === enqueued.jobId) return outcome;
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
 * Whether any worker serves a queue (BullMQ names its workers' connections, so
 * CLIENT LIST finds them), looked at no more often than `everyMs`. A job that
 * has started says a worker is there, even when it came and went between two
 * looks. A failed look says nothing rather than a wrong "no worker".
 */
export class WorkerWatch {
  private someConnected: boolean | undefined;
  private nextCheck = 0;

  constructor(
    private readonly queue: Queue,
    private readonly everyMs: number,
    private readonly report: (connected: number) => void,
  ) {}

  async check(jobState: string, now = Date.now()): Promise<void> {
    const started = jobState === "active" || jobState === "completed" || jobState === "failed";
    if (started ? this.someConnected !== false : now < this.nextCheck) return;
    this.nextCheck = now + this.everyMs;
    let count: number;
    try {
      count = await this.queue.getWorkersCount();
    } catch {
      return;
    }
    if (started) count = Math.max(count, 1);
    const some = count > 0;
    if (this.someConnected === undefined ? !some : some !== this.someConnected) this.report(count);
    this.someConnected = some;
  }
}

/**
 * Polls a job's state until it is completed or failed, or the deadline
 * passes. Polling starts fast and slows down, so a quick job is seen within
 * milliseconds and a long one costs a few Redis calls a second. A poll is one
 * call (the job's state); the job itself is read once, when it has finished.
 */
export async function waitForJob(
  queue: Queue,
  jobId: string,
  opts: { deadline: number; pollMs?: number; watch?: WorkerWatch },
): Promise<JobOutcome> {
  let interval = 2;
  const maxInterval = opts.pollMs ?? 250;
  for (;;) {
    const state = await queue.getJobState(jobId);
    await opts.watch?.check(state);
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
    const left = opts.deadline - Date.now();
    if (left <= 0) {
      const job = await Job.fromId(queue, jobId);
      return { id: jobId, state: "timed-out", jobState: state, attemptsMade: job?.attemptsMade ?? 0 };
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, left)));
    interval = Math.min(maxInterval, Math.ceil(interval * 1.5));
  }
}
