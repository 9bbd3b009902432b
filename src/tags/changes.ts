import type { EntityType } from "../facts/catalog.ts";

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

/** Entities of one type that people changed, told once the change has committed. */
export interface EntitiesChanged {
  type: EntityType;
  /** Never empty. */
  ids: readonly string[];
  change: PeopleChange;
}

/**
 * How the functions that change tags tell their caller's process about it:
 * the entry point (the API server, the CLI) decides what follows, such as a
 * debounced re-evaluation on the queue. Passed to each such function rather
 * than installed globally, so two servers in one process hear only their own
 * changes. A listener is called after the change has committed and must not
 * throw: it reports its own failures, since the change stands either way.
 */
export interface TagHooks {
  entitiesChanged(event: EntitiesChanged): Promise<void>;
}

/** Hooks that hear nothing, where nothing follows a tags change (tests, scripts). */
export const noTagHooks: TagHooks = {
  async entitiesChanged() {},
};

/** Tells the hooks about a committed change, when any entity changed. */
export async function reportChanged(
  hooks: TagHooks,
  type: EntityType,
  ids: readonly string[],
  change: PeopleChange = "tags",
): Promise<void> {
  if (ids.length === 0) return;
  await hooks.entitiesChanged({ type, ids, change });
}
