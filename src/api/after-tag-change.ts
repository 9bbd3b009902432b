import type { FastifyBaseLogger } from "fastify";
import { enqueueReleased, enqueueTagDependents } from "../queue/after-tag-change.ts";
import type { QueueSet } from "../queue/connection.ts";
import type { EntityType } from "../rules/catalog.ts";
import type { ApiDeps } from "./deps.ts";

/**
 * With REDIS_URL set, a request that changed entities' tags queues the
 * re-evaluation of the rules that test tags on them. The change has already
 * committed, so a queue that cannot be reached is logged, not answered with an
 * error: the next scheduled run catches up.
 */
export async function queueTagDependents(
  deps: ApiDeps,
  log: FastifyBaseLogger,
  type: EntityType,
  ids: readonly string[],
): Promise<void> {
  await queueOrWarn(
    deps,
    log,
    type,
    ids,
    "tags changed, but the re-evaluation of the rules that test tags",
    (q) => enqueueTagDependents(q, type, ids, { debounceMs: deps.config.queue.debounceMs }),
  );
}

/** The same after a request lifted a suppression in force: the entity, by every rule of its type. */
export async function queueReleased(
  deps: ApiDeps,
  log: FastifyBaseLogger,
  type: EntityType,
  ids: readonly string[],
): Promise<void> {
  await queueOrWarn(
    deps,
    log,
    type,
    ids,
    "a suppression was lifted, but the re-evaluation of the entity",
    (q) => enqueueReleased(q, type, ids, { debounceMs: deps.config.queue.debounceMs }),
  );
}

async function queueOrWarn(
  deps: ApiDeps,
  log: FastifyBaseLogger,
  type: EntityType,
  ids: readonly string[],
  what: string,
  enqueue: (queues: QueueSet) => Promise<unknown>,
): Promise<void> {
  if (!deps.queues || ids.length === 0) return;
  const warn = (reason: string) =>
    log.warn({ err: reason, entityType: type, entities: ids.length }, `${what} could not be queued`);
  // BullMQ waits for a connection that is down instead of failing: a tagging request must not hang on it.
  if (deps.queues.connection.status !== "ready") return warn(`Redis is ${deps.queues.connection.status}`);
  try {
    await enqueue(deps.queues);
  } catch (err) {
    warn(err instanceof Error ? err.message : String(err));
  }
}
