import type { QueueSet } from "./connection.ts";
import type { Enqueued } from "./job-kind.ts";
import type { Trigger } from "./payload-fields.ts";
import { enqueueRunAll } from "./run-all.ts";
import { enqueueRunRule } from "./run-rule.ts";

/**
 * What makes two run requests the same run: the same rules (sorted, without
 * repeats; none for every enabled rule), as of the same instant ("now" when
 * unset), with the same flags. The trigger does not count.
 */
export function runDeduplicationId(
  ruleIds: readonly string[],
  asOf: string | undefined,
  flags: { force?: boolean; full?: boolean },
): string {
  return `run.${ruleIds.length ? ruleIds.join(",") : "all"}.${asOf ?? "now"}${flags.force ? ".force" : ""}${flags.full ? ".full" : ""}`;
}

/**
 * Queues a run of the given rules (all enabled rules when none are named): a
 * run-rule job for one rule, else a run-all job. A run of the same rules as
 * of the same instant that is still waiting takes this request in; one
 * already running gets at most one successor, so a change that arrives
 * during a run is never lost.
 */
export async function enqueueRun(
  queues: QueueSet,
  req: { ruleIds: readonly string[]; asOf?: Date; force?: boolean; full?: boolean; trigger: Trigger },
): Promise<Enqueued> {
  const ids = [...new Set(req.ruleIds)].sort();
  const asOf = req.asOf?.toISOString();
  const id = runDeduplicationId(ids, asOf, req);
  const common = {
    ...(asOf ? { asOf } : {}),
    trigger: req.trigger,
    ...(req.force ? { force: true } : {}),
    ...(req.full ? { full: true } : {}),
  };
  if (ids.length === 1) return enqueueRunRule(queues, { ruleId: ids[0]!, ...common }, id);
  return enqueueRunAll(queues, { ...(ids.length ? { ruleIds: ids } : {}), ...common }, id);
}
