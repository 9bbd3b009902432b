import { createHash } from "node:crypto";
import { z } from "zod";
import type { EntityType } from "../facts/catalog.ts";
import { readsTags } from "../rules/fact-requests.ts";
import { reconcileEntities } from "../runs/runner.ts";
import type { QueueSet } from "./connection.ts";
import { addDeduplicated, DEFAULT_JOB_OPTIONS, defineJobKind, type Enqueued } from "./job-kind.ts";
import { entityId, type Trigger, triggerSchema } from "./payload-fields.ts";
import { QUEUES } from "./queues.ts";
import { loadRulesCached } from "./rules-cache.ts";
import { retriableFailure, toResultJson } from "./run-job.ts";
import type { RunJobResult } from "./run-payload.ts";

/** Most entity ids one re-evaluation job carries; an import touching more enqueues several jobs. */
export const MAX_ENTITY_BATCH = 500;

const evaluateEntitiesPayload = z.object({
  type: z.enum(["user", "account"]),
  ids: z.array(entityId).min(1).max(MAX_ENTITY_BATCH),
  trigger: triggerSchema.default("event"),
  /** Only the rules that read the `tags` fact: the entities' tags changed by hand, nothing else did. */
  testingTags: z.boolean().optional(),
});

export type EvaluateEntitiesPayload = z.input<typeof evaluateEntitiesPayload>;

/**
 * Re-evaluates a few users or accounts against every enabled rule of their
 * type (or, after their tags changed by hand, the rules that test tags), as
 * of now, with the semantics, locking and history of a full run.
 */
export const evaluateEntitiesJob = defineJobKind({
  name: "evaluate-entities",
  queue: QUEUES.entities,
  schema: evaluateEntitiesPayload,
  options: DEFAULT_JOB_OPTIONS,
  async handle(payload, _job, _token, { db, config }): Promise<RunJobResult> {
    const all = await loadRulesCached(config.rulesDir);
    const rules = payload.testingTags ? all.filter((r) => readsTags(r.definition)) : all;
    const asOf = new Date();
    const results = await reconcileEntities(db, rules, payload.type, payload.ids, {
      asOf,
      timezone: config.timezone,
      trigger: payload.trigger,
      removalGuard: config.removalGuard,
    });
    const retry = retriableFailure(results);
    if (retry) throw retry;
    return { asOf: asOf.toISOString(), results: results.map(toResultJson) };
  },
});

/**
 * What makes two re-evaluations the same job: the same entities (one batch,
 * sorted), and whether only the rules that test tags run.
 */
export function entitiesDeduplicationId(
  type: EntityType,
  batch: readonly string[],
  testingTags: boolean,
): string {
  const entities =
    batch.length === 1
      ? `entity.${type}.${batch[0]}`
      : `entities.${type}.${createHash("sha256").update(batch.join("\n")).digest("hex").slice(0, 24)}`;
  return entities + (testingTags ? ".tags" : "");
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
    const data: EvaluateEntitiesPayload = {
      type,
      ids: batch,
      trigger: opts.trigger,
      ...(opts.testingTags ? { testingTags: true } : {}),
    };
    out.push(
      await addDeduplicated(queues, evaluateEntitiesJob, data, {
        delay: opts.delayMs,
        deduplication: {
          id: entitiesDeduplicationId(type, batch, opts.testingTags === true),
          replace: true,
          keepLastIfActive: true,
        },
      }),
    );
  }
  return out;
}
