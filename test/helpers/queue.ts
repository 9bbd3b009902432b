import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, inject } from "vitest";
import { QueueSet } from "../../src/jobs/connection.ts";
import { backendUnavailable } from "./db.ts";
import { type Exit, type Spawned, spawnSignaltag } from "./process.ts";
import { testRedisUrl } from "./redis-setup.ts";

/** True when the queue suite cannot run here: no Postgres or no Redis (only outside CI). */
export function queueUnavailable(): boolean {
  return backendUnavailable() || !inject("redisAvailable");
}

/** Polls until `check` returns a value other than undefined or false, or fails after the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

export interface SpawnedWorker {
  readonly process: ChildProcess;
  output(): string;
  /** Resolves when the process has exited, with its code (null when killed by a signal). */
  readonly exited: Promise<Exit>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/** The handle of a spawned `signaltag worker` (`where` says which, in messages). */
export function asWorker(spawned: Spawned, where: string): SpawnedWorker {
  const { child, output, exited } = spawned;
  return {
    process: child,
    output,
    exited,
    async waitForOutput(pattern, timeoutMs = 30_000) {
      await waitFor(
        `worker output ${pattern}${where}`,
        () => {
          if (child.exitCode !== null) throw new Error(`worker exited (${child.exitCode}):\n${output()}`);
          return pattern.test(output());
        },
        { timeoutMs },
      );
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface QueueTest {
  readonly prefix: string;
  readonly redisUrl: string;
  /** The environment of a signaltag process on this test's database, Redis and queue prefix. */
  env(databaseUrl: string, extra?: Record<string, string>): Record<string, string>;
  /** A producer on this test's prefix; closed after each test. */
  queues(): Promise<QueueSet>;
  /** `node bin/signaltag.js worker`, waited for until it says it is ready. */
  spawnWorker(databaseUrl: string, extra?: Record<string, string>): Promise<SpawnedWorker>;
  /** Empties this test's queues (every key under its prefix). */
  clean(): Promise<void>;
}

/**
 * A queue prefix of its own for each test file, cleaned up afterwards. Every
 * worker process and connection a test opens must be closed by the test: one
 * left open fails it (and is then closed so the next test starts clean).
 */
export function useQueueTest(): QueueTest {
  const prefix = `sigtest-${randomBytes(5).toString("hex")}`;
  const redisUrl = testRedisUrl();
  const workers = new Set<SpawnedWorker>();
  const openSets = new Set<{ set: QueueSet; redis: Redis }>();

  const env = (databaseUrl: string, extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    SIGNALTAG_QUEUE_PREFIX: prefix,
    SIGNALTAG_LOG_LEVEL: "info",
    ...extra,
  });

  const clean = async () => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    try {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
    } finally {
      await redis.quit();
    }
  };

  afterEach(async () => {
    const leftWorkers = [...workers].filter(
      (w) => w.process.exitCode === null && w.process.signalCode === null,
    );
    const leftSets = [...openSets];
    for (const w of leftWorkers) {
      w.process.kill("SIGKILL");
      await w.exited;
    }
    for (const { set } of leftSets) await set.close();
    workers.clear();
    openSets.clear();
    await clean();
    if (leftWorkers.length || leftSets.length) {
      throw new Error(
        `the test left ${leftWorkers.length} worker process(es) and ${leftSets.length} queue connection(s) open`,
      );
    }
  });
  afterAll(clean);

  return {
    prefix,
    redisUrl,
    env,
    clean,
    async queues() {
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
      const set = new QueueSet(redis, prefix, true);
      const entry = { set, redis };
      openSets.add(entry);
      const close = set.close.bind(set);
      set.close = async () => {
        openSets.delete(entry);
        await close();
      };
      return set;
    },
    async spawnWorker(databaseUrl, extra = {}) {
      const spawned = spawnSignaltag(["worker"], { env: env(databaseUrl, extra) });
      const { child, exited } = spawned;
      const worker = asWorker(spawned, "");
      workers.add(worker);
      try {
        await worker.waitForOutput(/ ready: /, 60_000);
      } catch (err) {
        child.kill("SIGKILL");
        await exited;
        workers.delete(worker);
        throw new Error(`${String(err)}\n${spawned.output()}`);
      }
      return worker;
    },
  };
}
