import type { FastifyBaseLogger } from "fastify";
import type { EntityType } from "../facts/catalog.ts";
import { enqueueAfterPeople, type PeopleChange } from "../jobs/after-tag-change.ts";
import type { ApiDeps } from "./deps.ts";

/**
 * With REDIS_URL set, a request that changed entities' tags (or lifted a
 * suppression) queues their re-evaluation (see PeopleChange). The change has
 * already committed, so a queue that cannot be reached is logged, not
 * answered with an error: the next scheduled run catches up.
 */
export async function queueAfterPeople(
  deps: ApiDeps,
  log: FastifyBaseLogger,
  type: EntityType,
  ids: readonly string[],
  change: PeopleChange = "tags",
): Promise<void> {
  if (!deps.queues || ids.length === 0) return;
  const warn = (reason: string) =>
    log.warn(
      { err: reason, entityType: type, entities: ids.length },
      change === "tags"
        ? "tags changed, but the re-evaluation of the rules that test tags could not be queued"
        : "a suppression was lifted, but the re-evaluation of the entity could not be queued",
    );
  // BullMQ waits for a connection that is down instead of failing: a tagging request must not hang on it.
  if (deps.queues.connection.status !== "ready") return warn(`Redis is ${deps.queues.connection.status}`);
  try {
    await enqueueAfterPeople(deps.queues, type, ids, { debounceMs: deps.config.queue.debounceMs, change });
  } catch (err) {
    warn(err instanceof Error ? err.message : String(err));
  }
}
