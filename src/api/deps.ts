import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import type { QueueSet } from "../jobs/connection.ts";
import type { ApiMetrics } from "./metrics.ts";

/** What routes need: the database, configuration, a clock, metrics and (with REDIS_URL) the queues. */
export interface ApiDeps {
  database: Database;
  config: Config;
  clock: () => Date;
  metrics: ApiMetrics;
  queues?: QueueSet;
  /** Whether Redis answers (for /health); absent without REDIS_URL. */
  pingRedis?: () => Promise<void>;
}
