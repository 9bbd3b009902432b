import type { Config } from "../config.ts";
import type { EntitiesChanged } from "../tags/changes.ts";
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
export async function enqueueAfterImport(
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

/**
 * The re-evaluation after people changed entities (see PeopleChange),
 * debounced like an import's: after a tags change only the rules that test
 * tags, after a lifted suppression every rule of the type.
 */
export function enqueueAfterChange(
  queues: QueueSet,
  event: EntitiesChanged,
  opts: { debounceMs: number },
): Promise<Enqueued[]> {
  return enqueueEntities(queues, event.type, event.ids, {
    trigger: "event",
    delayMs: opts.debounceMs,
    ...(event.change === "tags" ? { testingTags: true } : {}),
  });
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** A line for a command to show after it queued a re-evaluation, or failed to. */
export interface QueuedNote {
  note: string;
  ok: boolean;
}

/**
 * For a command that runs once (the CLI): with REDIS_URL set, an import
 * queues the re-evaluation of what it touched, so tags follow the new data
 * within seconds instead of at the next scheduled run. Returns a line to
 * show, or undefined when there is no queue or nothing was touched.
 */
export async function queueAfterImport(
  config: QueueConfig,
  touched: Touched | undefined,
): Promise<QueuedNote | undefined> {
  if (!config.redisUrl || !touched) return undefined;
  if (touched.complete && touched.users.length === 0 && touched.accounts.length === 0) return undefined;
  return withQueues(config, "imported", async (queues) => {
    const jobs = await enqueueAfterImport(queues, touched, { debounceMs: config.queue.debounceMs });
    const what = touched.complete
      ? `${plural(touched.users.length, "user")} and ${plural(touched.accounts.length, "account")}`
      : "every rule (the import touched too many entities to list)";
    return `queued re-evaluation of ${what} (${plural(jobs.length, "job")})`;
  });
}

/** The same after people changed entities; undefined without REDIS_URL. */
export async function queueAfterChange(
  config: QueueConfig,
  event: EntitiesChanged,
): Promise<QueuedNote | undefined> {
  if (!config.redisUrl) return undefined;
  return withQueues(config, event.change === "tags" ? "tagged" : "lifted", async (queues) => {
    const jobs = await enqueueAfterChange(queues, event, { debounceMs: config.queue.debounceMs });
    const what = event.change === "tags" ? "the rules that test tags for " : "";
    return `queued re-evaluation of ${what}${plural(event.ids.length, event.type)} (${plural(jobs.length, "job")})`;
  });
}

/**
 * Opens the queues for one enqueue and closes them. The change has already
 * committed: a queue that cannot be reached is reported, not thrown, since the
 * next scheduled run catches up anyway.
 */
async function withQueues(
  config: QueueConfig,
  done: string,
  enqueue: (queues: QueueSet) => Promise<string>,
): Promise<QueuedNote> {
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
