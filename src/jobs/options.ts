import type { JobsOptions } from "bullmq";

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
 * A partition that keeps failing does not block its run: the parent goes on
 * and records the run as failed because a partition is missing.
 */
export const PARTITION_JOB_OPTIONS = {
  ...DEFAULT_JOB_OPTIONS,
  ignoreDependencyOnFailure: true,
} satisfies JobsOptions;
