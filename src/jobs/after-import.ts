import type { Config } from "../config.ts";
import type { EntityType } from "../facts/catalog.ts";
import { enqueueAfterPeople, type PeopleChange } from "./after-tag-change.ts";
import { openQueues, type QueueSet } from "./connection.ts";
import { enqueueRun } from "./enqueue-run.ts";
import { enqueueEntities } from "./evaluate-entities.ts";
import type { Enqueued } from "./job-kind.ts";

type QueueConfig = Pick<Config, "redisUrl" | "queue">;

/** What an import changed, as the imports report it. */
export interface Touched {
  accounts: string[];
  users: string[];
  /** False when the import touched more entities than were listed. */
  complete: boolean;
}

/**
 * Event-driven re-evaluation after an import: debounced jobs for the touched
 * users and accounts, or, when the import touched more than it listed, one
 * run of all rules (cheaper than thousands of entity jobs, and complete).
 */
async function enqueueTouched(
  queues: QueueSet,
  touched: Touched,
  opts: { debounceMs: number },
): Promise<Enqueued[]> {
  const trigger = "event";
  if (!touched.complete) return [await enqueueRun(queues, { ruleIds: [], trigger })];
  return [
    ...(await enqueueEntities(queues, "account", touched.accounts, { trigger, delayMs: opts.debounceMs })),
    ...(await enqueueEntities(queues, "user", touched.users, { trigger, delayMs: opts.debounceMs })),
  ];
}

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
