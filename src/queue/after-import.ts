import type { Config } from "../config.ts";
import { openQueues } from "./connection.ts";
import { enqueueTouched, type Touched } from "./enqueue.ts";

/**
 * Event-driven re-evaluation: with REDIS_URL set, an import queues debounced
 * re-evaluations of the users and accounts it touched, so their tags follow
 * the new data within seconds instead of at the next scheduled run. Returns a
 * line to show, or undefined when there is no queue or nothing was touched.
 * The import has already committed: a queue that cannot be reached is reported,
 * not thrown, since the next scheduled run catches up anyway.
 */
export async function enqueueAfterImport(
  config: Pick<Config, "redisUrl" | "queue">,
  touched: Touched | undefined,
): Promise<{ note: string; ok: boolean } | undefined> {
  if (!config.redisUrl || !touched) return undefined;
  if (touched.complete && touched.users.length === 0 && touched.accounts.length === 0) return undefined;
  try {
    const queues = await openQueues(config, "re-evaluation after import");
    try {
      const jobs = await enqueueTouched(queues, touched, { debounceMs: config.queue.debounceMs });
      const what = touched.complete
        ? `${touched.users.length} user${touched.users.length === 1 ? "" : "s"} and ${touched.accounts.length} account${touched.accounts.length === 1 ? "" : "s"}`
        : "every rule (the import touched too many entities to list)";
      return {
        note: `queued re-evaluation of ${what} (${jobs.length} job${jobs.length === 1 ? "" : "s"})`,
        ok: true,
      };
    } finally {
      await queues.close();
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      note: `warning: imported, but could not queue the re-evaluation (${reason}); the next scheduled run picks the changes up`,
      ok: false,
    };
  }
}
