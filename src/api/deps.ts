import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import type { QueueSet } from "../jobs/connection.ts";
import type { TagHooks } from "../tags/changes.ts";
import type { ApiMetrics } from "./metrics.ts";

/**
 * What routes need: the database, configuration, a clock, metrics, what
 * follows a tags change, and (with REDIS_URL) the queues.
 */
export interface ApiDeps {
  database: Database;
  config: Config;
  clock: () => Date;
  metrics: ApiMetrics;
  /** Passed to every tags change: queues the entities' re-evaluation when there is a queue. */
  tagHooks: TagHooks;
  queues?: QueueSet;
  /** Whether Redis answers (for /health); absent without REDIS_URL. */
  pingRedis?: () => Promise<void>;
}
