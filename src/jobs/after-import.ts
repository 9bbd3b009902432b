import type { Config } from "../config.ts";
import type { EntityType } from "../facts/catalog.ts";
import { enqueueAfterPeople, type PeopleChange } from "./after-tag-change.ts";
import { openQueues, type QueueSet } from "./connection.ts";
import { enqueueTouched, type Touched } from "./enqueue.ts";

type QueueConfig = Pick<Config, "redisUrl" | "queue">;

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/**
 * Event-driven re-evaluation: with REDIS_URL set, an import queues debounced
 * re-evaluations of the users and accounts it touched, so their tags follow
 * the new data within seconds instead of at the next scheduled run. Returns a
 * line to show, or undefined when there is no queue or nothing was touched.
 * The import has already committed: a queue that cannot be reached is reported,
 * not thrown, since the next scheduled run catches up anyway.
 */
export async function enqueueAfterImport(
  config: QueueConfig,
  touched: Touched | undefined,
): Promise<{ note: string; ok: boolean } | undefined> {
  if (!config.redisUrl || !touched) return undefined;
  if (touched.complete && touched.users.length === 0 && touched.accounts.length === 0) return undefined;
  return withQueues(config, "imported", async (queues) => {
    const jobs = await enqueueTouched(queues, touched, { debounceMs: config.queue.debounceMs });
    const what = touched.complete
      ? `${plural(touched.users.length, "user")} and ${plural(touched.accounts.length, "account")}`
      : "every rule (the import touched too many entities to list)";
    return `queued re-evaluation of ${what} (${plural(jobs.length, "job")})`;
  });
}

/**
 * The same after people changed tags (by a tags file, by hand, in bulk or by
 * a suppression), or lifted a suppression in force: see PeopleChange.
 */
export async function enqueueAfterTagChange(
  config: QueueConfig,
  type: EntityType,
  ids: readonly string[],
  change: PeopleChange = "tags",
): Promise<{ note: string; ok: boolean } | undefined> {
  if (!config.redisUrl || ids.length === 0) return undefined;
  return withQueues(config, change === "tags" ? "tagged" : "lifted", async (queues) => {
    const jobs = await enqueueAfterPeople(queues, type, ids, { debounceMs: config.queue.debounceMs, change });
    const what = change === "tags" ? "the rules that test tags for " : "";
    return `queued re-evaluation of ${what}${plural(ids.length, type)} (${plural(jobs.length, "job")})`;
  });
}

async function withQueues(
  config: QueueConfig,
  done: string,
  enqueue: (queues: QueueSet) => Promise<string>,
): Promise<{ note: string; ok: boolean }> {
  try {
    const queues = await openQueues(config, "re-evaluation after import");
    try {
      return { note: await enqueue(queues), ok: true };
    } finally {
      await queues.close();
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      note: `warning: ${done}, but could not queue the re-evaluation (${reason}); the next scheduled run picks the changes up`,
      ok: false,
    };
  }
}
