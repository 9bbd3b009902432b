import { DelayedError, type Job, UnrecoverableError, WaitingChildrenError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { isConnectionLoss } from "../src/db/connection-errors.ts";
import { isSignaltagError } from "../src/errors/index.ts";
import { deliverWebhooksJob } from "../src/jobs/deliver-webhooks.ts";
import { evaluateEntitiesJob } from "../src/jobs/evaluate-entities.ts";
import { evaluatePartitionJob } from "../src/jobs/evaluate-partition.ts";
import { describePayloadError, type JobDeps, type JobKind } from "../src/jobs/job-kind.ts";
import type { QueueName } from "../src/jobs/queues.ts";
import { runAllJob } from "../src/jobs/run-all.ts";
import { runRuleJob } from "../src/jobs/run-rule.ts";

/** Every job kind signaltag runs. */
export const JOB_KINDS: readonly JobKind[] = [
  runRuleJob,
  runAllJob,
  evaluatePartitionJob,
  evaluateEntitiesJob,
  deliverWebhooksJob,
];

export interface WorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  /** A job whose lock is not renewed for this long is taken back as stalled. */
  lockMs: number;
  log: (line: string) => void;
}

export interface RunningWorkers {
  readonly workers: Worker[];
  /** Jobs finished by kind and outcome since start. */
  readonly counts: Map<string, { completed: number; failed: number }>;
  /** Stops taking jobs and waits for the current ones (or, forced, abandons them to stalled recovery). */
  close(force?: boolean): Promise<void>;
}

/** The longest a job waits for an unreachable database before it tries again. */
export const OUTAGE_MAX_DELAY_MS = 15_000;

/**
 * How long a job that found the database unreachable waits: 1 s, doubling
 * with each time it was put back so (each start that made no attempt), up to
 * OUTAGE_MAX_DELAY_MS. A restart costs a second; a failover of minutes costs
 * at most one wait after the database is back.
 */
export function outageDelayMs(job: Pick<Job, "attemptsStarted" | "attemptsMade">): number {
  const putBack = Math.max(0, job.attemptsStarted - job.attemptsMade - 1);
  return Math.min(1000 * 2 ** Math.min(putBack, 16), OUTAGE_MAX_DELAY_MS);
}

/**
 * Parses the payload, runs the kind's handler, and sorts failures at the
 * boundary: a payload that does not parse, or an error that retrying cannot
 * fix, fails at once (UnrecoverableError); a job that could not reach the
 * database is put back to wait for it without using up an attempt (however
 * long a restart or failover takes, the job is not failed for good by it);
 * anything else is retried with backoff.
 */
export async function runJob(
  kind: JobKind,
  job: Job,
  token: string | undefined,
  deps: JobDeps,
  onPutBack: (delayMs: number, err: unknown) => void = () => {},
) {
  const parsed = kind.schema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(describePayloadError(kind.name, parsed.error));
  try {
    return await kind.handle(parsed.data, job, token, deps);
  } catch (err) {
    if (err instanceof WaitingChildrenError || err instanceof UnrecoverableError) throw err;
    if (token && isConnectionLoss(err)) {
      const delayMs = outageDelayMs(job);
      // moveToDelayed from the job's own token leaves attemptsMade as it was.
      await job.moveToDelayed(Date.now() + delayMs, token);
      onPutBack(delayMs, err);
      throw new DelayedError();
    }
    if (isSignaltagError(err) && !err.retriable) throw new UnrecoverableError(err.message);
    throw err;
  }
}

/** Starts one BullMQ Worker per queue, dispatching each job to its kind by name. */
export function startWorkers(deps: JobDeps, opts: WorkerOptions): RunningWorkers {
  const byQueue = new Map<QueueName, Map<string, JobKind>>();
  for (const kind of JOB_KINDS) {
    const kinds = byQueue.get(kind.queue) ?? new Map<string, JobKind>();
    kinds.set(kind.name, kind);
    byQueue.set(kind.queue, kinds);
  }
  const counts = new Map<string, { completed: number; failed: number }>();
  const count = (name: string, outcome: "completed" | "failed") => {
    const c = counts.get(name) ?? { completed: 0, failed: 0 };
    c[outcome]++;
    counts.set(name, c);
  };
  const workers: Worker[] = [];
  for (const [queue, kinds] of byQueue) {
    const worker = new Worker(
      queue,
      async (job, token) => {
        const kind = kinds.get(job.name);
        if (!kind) throw new UnrecoverableError(`no job kind ${JSON.stringify(job.name)} on queue ${queue}`);
        return runJob(kind, job, token, deps, (delayMs, err) =>
          opts.log(
            `${queue} ${job.name} ${job.id} put back for ${delayMs} ms, database unreachable (attempt ${job.attemptsMade + 1} not used up): ${err instanceof Error ? err.message : String(err)}`,
          ),
        );
      },
      {
        connection: opts.connection,
        prefix: opts.prefix,
        concurrency: opts.concurrency,
        lockDuration: opts.lockMs,
        stalledInterval: opts.lockMs,
        // A job that stalls twice (its worker killed twice) is failed rather than retried forever.
        maxStalledCount: 2,
        autorun: true,
      },
    );
    worker.on("completed", (job) => {
      count(job.name, "completed");
      if (kinds.get(job.name)?.logCompletions === false) return;
      opts.log(
        `${queue} ${job.name} ${job.id} completed in ${Date.now() - (job.processedOn ?? Date.now())} ms`,
      );
    });
    worker.on("failed", (job, err) => {
      if (!job) return;
      count(job.name, "failed");
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
      opts.log(
        `${queue} ${job.name} ${job.id} failed (attempt ${job.attemptsMade}${final ? ", final" : ", will retry"}): ${err.message}`,
      );
    });
    worker.on("stalled", (jobId) => opts.log(`${queue} job ${jobId} stalled; it is taken up again`));
    worker.on("error", (err) => opts.log(`${queue} worker error: ${err.message}`));
    workers.push(worker);
  }
  return {
    workers,
    counts,
    async close(force = false) {
      await Promise.all(workers.map((w) => w.close(force)));
    },
  };
}
