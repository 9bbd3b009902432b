import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../config.ts";
import { enqueueAfterChange } from "../jobs/after-changes.ts";
import type { QueueSet } from "../jobs/connection.ts";
import type { TagHooks } from "../tags/changes.ts";

/**
 * The API's one listener to tags changes: with REDIS_URL set, a request that
 * changed entities' tags (or lifted a suppression) queues their
 * re-evaluation (see PeopleChange); without it, nothing follows. The change
 * has already committed, so a queue that cannot be reached is logged, not
 * answered with an error: the next scheduled run catches up.
 */
export function queueingTagHooks(
  queues: QueueSet | undefined,
  config: Pick<Config, "queue">,
  log: FastifyBaseLogger,
): TagHooks {
  return {
    async entitiesChanged(event) {
      if (!queues) return;
      const warn = (reason: string) =>
        log.warn(
          { err: reason, entityType: event.type, entities: event.ids.length },
          event.change === "tags"
            ? "tags changed, but the re-evaluation of the rules that test tags could not be queued"
            : "a suppression was lifted, but the re-evaluation of the entity could not be queued",
        );
      // BullMQ waits for a connection that is down instead of failing: a tagging request must not hang on it.
      if (queues.connection.status !== "ready") return warn(`Redis is ${queues.connection.status}`);
      try {
        await enqueueAfterChange(queues, event, { debounceMs: config.queue.debounceMs });
      } catch (err) {
        warn(err instanceof Error ? err.message : String(err));
      }
    },
  };
}
