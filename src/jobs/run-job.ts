import { randomUUID } from "node:crypto";
import { type Job, WaitingChildrenError } from "bullmq";
import { RetriableRunError, RunPausedError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { countEntities } from "../facts/sql/entity-batch.ts";
import type { LoadedRule } from "../rules/types.ts";
import { canRunIncrementally } from "../runs/incremental.ts";
import { applyPartitionedRun, partitionBounds } from "../runs/partitioned-run.ts";
import { runRule } from "../runs/reconcile.ts";
import type { RunOptions } from "../runs/run-options.ts";
import type { RunResult } from "../runs/run-result.ts";
import { runRules, selectRules } from "../runs/runner.ts";
import { type EvaluatePartitionPayload, enqueuePartitions, partitionJobId } from "./evaluate-partition.ts";
import type { JobDeps } from "./job-kind.ts";
import { loadRulesCached } from "./rules-cache.ts";
import type { RunJobResult, RunProgress, RunResultJson } from "./run-payload.ts";

export interface RunRequest {
  ruleIds: string[];
  asOf?: string;
  trigger: RunOptions["trigger"];
  force?: boolean;
  /** Every entity evaluated: no incremental runs (which also means large runs are partitioned). */
  full?: boolean;
  progress?: RunProgress;
}

/**
 * Runs rules for a queue job the way the inline `run` does (same runner, same
 * dependency order, independent rules at once up to `runConcurrency`), with
 * two additions. A rule over more entities than the partition size fans out
 * into partition jobs, children of this job; once the rules running beside it
 * have finished, the job waits for them and, picked up again, applies their
 * changes as one run and goes on with the rules not yet run. And the job's
 * progress is saved in its payload, so a retried or recovered job finishes
 * the rules it had not finished and never runs one twice.
 */
export async function processRunJob(
  job: Job,
  token: string | undefined,
  deps: JobDeps,
  request: RunRequest,
): Promise<RunJobResult> {
  const { db, config } = deps;
  const all = await loadRulesCached(config.rulesDir);
  const selected = selectRules(all, request.ruleIds);
  let progress: RunProgress = request.progress ?? {
    runKey: randomUUID(),
    asOf: (request.asOf ? new Date(request.asOf) : new Date()).toISOString(),
    results: [],
  };
  const save = async (next: RunProgress) => {
    progress = next;
    await job.updateData({ ...(job.data as object), progress });
  };
  if (!request.progress) await save(progress);

  const asOf = new Date(progress.asOf);
  const opts: RunOptions = {
    asOf,
    timezone: config.timezone,
    trigger: request.trigger,
    force: request.force,
    removalGuard: config.removalGuard,
    incremental: !request.full,
  };

  const finish = async (result: RunResult): Promise<RunResult> => {
    // A rule that failed because the database went away is worth another attempt:
    // the job is retried with backoff and resumes at this rule.
    const retry = retriableFailure([result]);
    if (retry) throw retry;
    const json = toResultJson(result);
    // Rules finish in any order: only this rule's own partitions are done with.
    const pending = progress.pending?.ruleId === json.rule ? undefined : progress.pending;
    await save({ ...progress, pending, results: [...progress.results, json] });
    return result;
  };

  /** Whether a rule fanned out into partitions in this call. */
  let fannedOut = false;
  const size = config.queue.partitionSize;
  // Per entity type, worked out once for the rules of this call that run side by side.
  const counts = new Map<EntityType, Promise<number>>();
  const countOf = (type: EntityType) => memo(counts, type, () => countEntities(db, type, asOf));
  const computing = new Map<EntityType, Promise<(string | null)[]>>();
  const boundsOf = (type: EntityType) =>
    progress.bounds?.[type] ??
    memo(computing, type, async () => {
      const { bounds } = await partitionBounds(db, type, asOf, size);
      // Kept with the job by the next save, even if the rule that asked waits for another's partitions.
      progress = { ...progress, bounds: { ...progress.bounds, [type]: bounds } };
      return bounds;
    });
  const runOne = async (rule: LoadedRule): Promise<RunResult> => {
    const id = rule.definition.id;
    const done = progress.results.find((r) => r.rule === id);
    if (done) return done as RunResult;
    const runKey = `${progress.runKey}.${id}`;
    if (progress.pending?.ruleId === id) {
      return finish(await applyPartitionedRun(db, rule, { ...opts, runKey }, progress.pending.partitions));
    }
    const type = rule.definition.target;
    const count = await countOf(type);
    // A rule whose last run today allows an incremental run evaluates only what changed: no partitions.
    if (count <= size || (!request.full && (await canRunIncrementally(db, rule, asOf, opts.timezone))))
      return finish(await runRule(db, rule, { ...opts, runKey }));
    // A rule that fans out, or would while another's partitions are pending (a job partitions one
    // rule at a time), stops the run: once the rules already running have finished, the job waits
    // for the partitions, and the waiting rule runs when the job is picked up again.
    const waitFor = () =>
      new RunPausedError(`rule ${id} waits for rule ${progress.pending?.ruleId}'s partitions`);
    if (progress.pending) throw waitFor();

    const bounds = await boundsOf(type);
    if (progress.pending) throw waitFor();
    fannedOut = true;
    // The bounds are in `progress` already (boundsOf keeps them there): saved with the job here.
    await save({ ...progress, pending: { ruleId: id, runKey, partitions: bounds.length } });
    await queuePartitions(rule, runKey, bounds);
    throw new RunPausedError(`rule ${id} fanned out into ${bounds.length} partitions`);
  };
  const queuePartitions = (
    rule: LoadedRule,
    runKey: string,
    bounds: readonly (string | null)[],
    only: (i: number) => boolean = () => true,
  ) =>
    enqueuePartitions(
      deps.queues,
      { id: job.id!, queue: job.queueQualifiedName },
      bounds
        .map(
          (through, i): EvaluatePartitionPayload => ({
            runKey,
            ruleId: rule.definition.id,
            ruleVersion: rule.version,
            asOf: progress.asOf,
            trigger: request.trigger,
            partition: i,
            after: i === 0 ? null : bounds[i - 1]!,
            through,
          }),
        )
        .filter((p) => only(p.partition)),
    );

  // The rule whose partitions this job waited for is applied first, alone: so a rule fans out (and
  // `pending` is set) only by this call, once at most. A job taken up again after its worker died may
  // have partitions still to wait for (its worker fanned out and was waiting for the rules beside).
  const waited = progress.pending && selected.find((r) => r.definition.id === progress.pending?.ruleId);
  if (waited) {
    // Its worker may have died between saving `pending` and queueing the partitions (kill -9 found
    // it: the run then failed with none of them finished). The missing ones are queued now; those
    // in Redis, finished or not (a failed one must stay failed), are left as they are.
    const bounds = progress.bounds?.[waited.definition.target];
    if (token && bounds) {
      const runKey = progress.pending!.runKey;
      const exists = await Promise.all(
        bounds.map(async (_, i) => Boolean(await deps.queues.partitions.getJob(partitionJobId(runKey, i)))),
      );
      if (exists.includes(false)) await queuePartitions(waited, runKey, bounds, (i) => !exists[i]);
    }
    if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
    await runOne(waited);
  } else if (progress.pending) {
    // Its rule was disabled or removed meanwhile: its partitions' changes are not applied.
    await save({ ...progress, pending: undefined });
  }
  let results: (RunResult | RunResultJson)[];
  try {
    results = await runRules(db, all, selected, { ...opts, runOne, concurrency: deps.runConcurrency });
  } catch (err) {
    // A rule failing beside the one that fanned out fails again when the job is picked up after its partitions.
    if (!fannedOut) throw err;
    if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
    // Every partition had already finished: applied at once, then the rules not run yet.
    return processRunJob(job, token, deps, { ...request, progress });
  }
  return { asOf: progress.asOf, results: results.map(toResultJson) };
}

function memo<K, V>(cache: Map<K, Promise<V>>, key: K, make: () => Promise<V>): Promise<V> {
  let value = cache.get(key);
  if (!value) {
    value = make();
    cache.set(key, value);
  }
  return value;
}

/** A result as a job keeps and returns it: without samples and without what only decides a retry. */
export function toResultJson(r: RunResult | RunResultJson): RunResultJson {
  const { samples: _samples, retriable: _retriable, unavailable: _unavailable, ...json } = r as RunResult;
  return json;
}

/**
 * The error that has a job retried for the first of these results that
 * failed in a way that may pass; with the database unreachable, the job
 * waits for it without using up an attempt (workers/registry.ts).
 */
export function retriableFailure(results: readonly RunResult[]): RetriableRunError | undefined {
  const failed = results.find((r) => r.status === "failed" && r.retriable);
  if (!failed) return undefined;
  return new RetriableRunError(`rule ${failed.rule} failed: ${failed.error}`, {
    databaseUnavailable: failed.unavailable === true,
  });
}
