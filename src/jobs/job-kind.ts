import { randomUUID } from "node:crypto";
import type { Job, JobsOptions, Queue } from "bullmq";
import type { z } from "zod";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import type { QueueSet } from "./connection.ts";
import type { QueueName } from "./queues.ts";

/** What job handlers get from the worker process that runs them. */
export interface JobDeps {
  db: Db;
  config: Config;
  queues: QueueSet;
  /** Rules of a run job evaluated at once (runConcurrency: one on the embedded database). */
  runConcurrency: number;
}

/**
 * Defaults for every job: retriable failures come back with exponential
 * backoff (1 s, 2 s, 4 s, ...); finished jobs are kept for a while for
 * `status` and debugging, within bounds so Redis does not grow without end.
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: "exponential", delay: 1000 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
} satisfies JobsOptions;

/**
 * One kind of job: its name, where it queues, what its payload is, how it is
 * retried, and what it does. Each kind's file also exports a typed function
 * that enqueues it.
 */
export interface JobKind<S extends z.ZodType = z.ZodType> {
  name: string;
  queue: QueueName;
  schema: S;
  /** Options every job of the kind is added with. */
  options: JobsOptions;
  handle(payload: z.infer<S>, job: Job, token: string | undefined, deps: JobDeps): Promise<unknown>;
  /** Whether the worker logs each completed job (default true; false for a job that runs every second). */
  logCompletions?: boolean;
}

export function defineJobKind<S extends z.ZodType>(kind: JobKind<S>): JobKind<S> {
  return kind;
}

/** One line naming every problem of a payload that does not parse. */
export function describePayloadError(name: string, error: z.ZodError): string {
  const problems = error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(payload)"}: ${i.message}`);
  return `invalid ${name} payload: ${problems.join("; ")}`;
}

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

/**
 * Adds a job of a kind, with the kind's options, under BullMQ deduplication:
 * a request may be folded into a job already queued with the same id.
 */
export async function addDeduplicated<S extends z.ZodType>(
  queues: QueueSet,
  kind: JobKind<S>,
  data: z.input<S>,
  opts: JobsOptions & { deduplication: NonNullable<JobsOptions["deduplication"]> },
): Promise<Enqueued> {
  const queue = queues.get(kind.queue);
  const jobId = randomUUID();
  const job = await queue.add(kind.name, data, { ...kind.options, ...opts, jobId });
  return {
    queue,
    jobId,
    effectiveId: job.id ?? jobId,
    deduplicationId: opts.deduplication.id,
    deduplicated: job.id !== jobId,
  };
}
