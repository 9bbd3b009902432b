import { RetriableRunError } from "../errors/index.ts";
import { readsTags } from "../rules/fact-requests.ts";
import { reconcileEntities } from "../runs/runner.ts";
import { defineJobKind } from "./job-kind.ts";
import { JOB_NAMES, QUEUES } from "./names.ts";
import { DEFAULT_JOB_OPTIONS } from "./options.ts";
import { evaluateEntitiesPayload, type RunJobResult } from "./payloads.ts";
import { loadRulesCached } from "./rules-cache.ts";

/**
 * Re-evaluates a few users or accounts against every enabled rule of their
 * type (or, after their tags changed by hand, the rules that test tags), as
 * of now, with the semantics, locking and history of a full run.
 */
export const evaluateEntitiesJob = defineJobKind({
  name: JOB_NAMES.evaluateEntities,
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
    const retriable = results.find((r) => r.status === "failed" && r.retriable);
    if (retriable) throw new RetriableRunError(`rule ${retriable.rule} failed: ${retriable.error}`);
    return {
      asOf: asOf.toISOString(),
      results: results.map(({ samples: _s, retriable: _r, ...json }) => json),
    };
  },
});
