import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { closeHandler } from "ioredis/built/redis/event_handler.js";
import { MissingPrerequisiteError, RedisUnavailableError } from "../errors/index.ts";
import { redactUrl } from "../errors/redact-url.ts";
import { QUEUES, type QueueName } from "./queues.ts";

/**
 * ioredis 6 (and 5): disconnect() between a lost connection and its next
 * retry clears the retry timer and closes a stream that is already closed, so
 * the connection never reaches "end" and never says so. BullMQ's
 * Worker.close() disconnects its blocking connection and waits for that "end":
 * a worker stopped while its connections waited to reconnect (Redis just
 * restarted) hung until the shutdown deadline and exited 1. Here such a
 * disconnect ends the connection at once, as ioredis does for one that never
 * connected ("wait").
 */
function endDisconnectWhileReconnecting(): void {
  const proto = Redis.prototype as Redis & { signaltagEndsWhileReconnecting?: true };
  if (proto.signaltagEndsWhileReconnecting) return;
  const disconnect = proto.disconnect;
  proto.disconnect = function (this: Redis, reconnect = false) {
    const waitingToRetry = !reconnect && this.status === "reconnecting";
    disconnect.call(this, reconnect);
    if (waitingToRetry && this.status === "reconnecting") closeHandler(this)();
  };
  proto.signaltagEndsWhileReconnecting = true;
}
endDisconnectWhileReconnecting();

/**
 * Opens a Redis connection and waits until it answers, so a process that
 * cannot reach Redis says so at once instead of hanging. Workers retry
 * commands forever across reconnects (BullMQ requires it for blocking reads);
 * producers fail fast while Redis is away.
 */
export async function openRedis(
  url: string,
  role: "worker" | "producer",
  opts: { timeoutMs?: number; onError?: (err: Error) => void } = {},
): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: `signaltag-${role}`,
    maxRetriesPerRequest: role === "worker" ? null : 2,
    enableOfflineQueue: role === "worker",
    connectTimeout: opts.timeoutMs ?? 5000,
  });
  let lastError: Error | undefined;
  redis.on("error", (err: Error) => {
    lastError = err;
    opts.onError?.(err);
  });
  const timeoutMs = opts.timeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const reason = lastError?.message ?? (err instanceof Error ? err.message : String(err));
    throw new RedisUnavailableError(
      `Redis is not reachable at ${redactUrl(url)} (${reason}); start it or fix REDIS_URL`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
  return redis;
}

/** Closes a connection, politely when it is up. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/**
 * The producer side of the queues over one connection: what the CLI, the API
 * and the workers use to add jobs. Closing it closes the queues, and the
 * connection too when it owns it.
 */
export class QueueSet {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    readonly connection: Redis,
    readonly prefix: string,
    private readonly ownsConnection = false,
  ) {}

  get(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  get rules(): Queue {
    return this.get(QUEUES.rules);
  }

  get partitions(): Queue {
    return this.get(QUEUES.partitions);
  }

  get entities(): Queue {
    return this.get(QUEUES.entities);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    if (this.ownsConnection) await closeRedis(this.connection);
  }
}

/** REDIS_URL, or a one-line error saying what to set. */
export function requireRedisUrl(config: { redisUrl: string | undefined }, command: string): string {
  if (!config.redisUrl) {
    throw new MissingPrerequisiteError(
      `${command} needs the queue: set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379); without it, \`signaltag run\` runs rules inline`,
    );
  }
  return config.redisUrl;
}

/** Opens a producer connection and the queues on it; closing the set closes the connection. */
export async function openQueues(
  config: { redisUrl: string | undefined; queue: { prefix: string } },
  command: string,
): Promise<QueueSet> {
  const redis = await openRedis(requireRedisUrl(config, command), "producer");
  return new QueueSet(redis, config.queue.prefix, true);
}
