import { Redis } from "ioredis";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    redisAvailable: boolean;
  }
}

/** The Redis the queue suites use; TEST_REDIS_URL overrides the local default. */
export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
}

/**
 * Checks once that Redis answers. With CI=true an unreachable Redis fails the
 * run instead of skipping the queue suite.
 */
export default async function setup(project: TestProject): Promise<void> {
  const redis = new Redis(testRedisUrl(), {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 3000,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
    project.provide("redisAvailable", true);
  } catch (err) {
    if (process.env.CI === "true") {
      throw new Error(`Redis is required in CI and is not reachable at ${testRedisUrl()}: ${String(err)}`);
    }
    process.stderr.write(
      `queue suite skipped: Redis not reachable at ${testRedisUrl()} (set CI=true to fail)\n`,
    );
    project.provide("redisAvailable", false);
  } finally {
    redis.disconnect();
  }
}
