import type { EntityType } from "../rules/catalog.ts";
import type { QueueSet } from "./connection.ts";
import { type Enqueued, enqueueEntities } from "./enqueue.ts";

/**
 * After people changed entities' tags (by hand, in bulk, by file, or by
 * suppressing a rule's claim): the rules that test tags are re-evaluated on
 * the entities that gained or lost a tag, debounced like an import. The other
 * rules cannot see the change; they wait for their next run, so a tag removed
 * by hand is not claimed back at once by the rule that set it.
 */
export async function enqueueTagDependents(
  queues: QueueSet,
  type: EntityType,
  ids: readonly string[],
  opts: { debounceMs: number },
): Promise<Enqueued[]> {
  if (ids.length === 0) return [];
  return enqueueEntities(queues, type, ids, {
    trigger: "event",
    delayMs: opts.debounceMs,
    testingTags: true,
  });
}

/**
 * After a suppression in force was lifted: the entity is re-evaluated by
 * every enabled rule of its type, debounced like an import, so a rule that
 * still matches claims its tag again within seconds instead of at its next run.
 */
export async function enqueueReleased(
  queues: QueueSet,
  type: EntityType,
  ids: readonly string[],
  opts: { debounceMs: number },
): Promise<Enqueued[]> {
  if (ids.length === 0) return [];
  return enqueueEntities(queues, type, ids, { trigger: "event", delayMs: opts.debounceMs });
}
