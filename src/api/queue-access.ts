import type { FastifyBaseLogger } from "fastify";
import { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { redactUrl } from "../errors/redact-url.ts";
import { QueueSet } from "../jobs/connection.ts";

/**
 * The API's connection to the queues. It does not wait for Redis: the API
 * serves tagging, profiles and segments without it, and /health says when
 * Redis is down. Commands fail fast while it is away (no offline queue).
 */
export function openQueueAccess(
  config: Pick<Config, "queue"> & { redisUrl?: string },
  log: FastifyBaseLogger,
): { queues: QueueSet; ping: () => Promise<void> } {
  const url = config.redisUrl!;
  const redis = new Redis(url, {
    connectionName: "signaltag-api",
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    connectTimeout: 5000,
  });
  let lastLogged = 0;
  redis.on("error", (err: Error) => {
    // Reconnects retry every few hundred ms: one line a minute is enough.
    if (Date.now() - lastLogged > 60_000) {
      lastLogged = Date.now();
      log.warn({ err: err.message, redis: redactUrl(url) }, "Redis is not reachable");
    }
  });
  return {
    queues: new QueueSet(redis, config.queue.prefix),
    ping: async () => {
      await redis.ping();
    },
  };
}
