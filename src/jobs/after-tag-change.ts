import type { EntityType } from "../facts/catalog.ts";
import type { QueueSet } from "./connection.ts";
import { enqueueEntities } from "./evaluate-entities.ts";
import type { Enqueued } from "./job-kind.ts";

/**
 * What people did to entities that rules should see soon:
 * - `tags`: changed their tags (by hand, in bulk, by file, or by suppressing
 *   a rule's claim). Only the rules that test tags can see that; the others
 *   wait for their next run, so a tag removed by hand is not claimed back at
 *   once by the rule that set it.
 * - `lift`: lifted a suppression that was in force. Every rule of the type
 *   runs, so a rule that still matches claims its tag again within seconds
 *   instead of at its next run.
 */
export type PeopleChange = "tags" | "lift";

/** Queues the re-evaluation after people changed entities, debounced like an import. */
export async function enqueueAfterPeople(
  queues: QueueSet,
  type: EntityType,
  ids: readonly string[],
  opts: { debounceMs: number; change: PeopleChange },
): Promise<Enqueued[]> {
  if (ids.length === 0) return [];
  return enqueueEntities(queues, type, ids, {
    trigger: "event",
    delayMs: opts.debounceMs,
    ...(opts.change === "tags" ? { testingTags: true } : {}),
  });
}
