import type { Job, JobsOptions } from "bullmq";
import type { z } from "zod";
import type { QueueName } from "./names.ts";
import type { JobDeps } from "./run-job.ts";

/** One kind of job: where it queues, what its payload is, how it is retried, and what it does. */
export interface JobKind<S extends z.ZodType = z.ZodType> {
  name: string;
  queue: QueueName;
  schema: S;
  options: JobsOptions;
  handle(payload: z.infer<S>, job: Job, token: string | undefined, deps: JobDeps): Promise<unknown>;
}

export function defineJobKind<S extends z.ZodType>(kind: JobKind<S>): JobKind<S> {
  return kind;
}
