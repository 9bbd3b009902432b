import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { waitFor } from "../helpers/queue.ts";
import { redisArgs, stopRedis } from "./services-setup.ts";
import { services } from "./workload.ts";

const exec = promisify(execFile);

/** `pg_ctlcluster restart -m fast`: every connection is dropped and refused until the server is back. */
export async function restartPostgres(): Promise<{ tookMs: number }> {
  const s = services();
  const started = Date.now();
  await exec("pg_ctlcluster", [s.pgVersion, s.cluster, "restart", "-m", "fast"]);
  return { tookMs: Date.now() - started };
}

/**
 * An outage, not a restart: the suite's Postgres stopped (`-m fast`: every
 * session ended) and started again `downMs` later, as a failover that takes
 * that long looks to its clients.
 */
export async function stopPostgresFor(downMs: number): Promise<void> {
  const s = services();
  await exec("pg_ctlcluster", [s.pgVersion, s.cluster, "stop", "-m", "fast"]);
  await new Promise((resolve) => setTimeout(resolve, downMs));
  await exec("pg_ctlcluster", [s.pgVersion, s.cluster, "start"]);
}

/**
 * Restarts the suite's Redis. With its data: a clean shutdown, and the AOF
 * (fsynced at every write) brings every key back. Without: killed, its files
 * removed, started empty, as a Redis without persistence comes back.
 */
export async function restartRedis(keepData: boolean): Promise<{ tookMs: number }> {
  const s = services();
  const started = Date.now();
  stopRedis(s.redisDir, keepData ? "save" : "nosave");
  if (!keepData) {
    for (const f of fs.readdirSync(s.redisDir)) {
      if (f.startsWith("appendonly") || f.endsWith(".rdb")) {
        fs.rmSync(path.join(s.redisDir, f), { recursive: true, force: true });
      }
    }
  }
  await exec("redis-server", redisArgs(s));
  const redis = new Redis(`redis://127.0.0.1:${s.redisPort}`, { lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on("error", () => {});
  try {
    await waitFor("redis to answer after its restart", async () => {
      if (redis.status !== "ready") await redis.connect().catch(() => {});
      return (await redis.ping()) === "PONG";
    });
  } finally {
    redis.disconnect();
  }
  return { tookMs: Date.now() - started };
}
