import type { Redis } from "ioredis";
import { type RateLimiter, Throttles } from "../webhooks/throttle.ts";

/**
 * Reserves a subscription's next request start in Redis, so its rate limit
 * holds across every worker on every host: one key per subscription holds the
 * earliest time the next request may start; each reservation takes that time
 * (or now) and moves it on by 1/rate s. Time is Redis's clock, so hosts whose
 * clocks differ still space their requests; only the wait is run locally.
 * The key expires once it is in the past, so idle subscriptions leave nothing.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local nextAt = at + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.3f', nextAt), 'PX', math.ceil(nextAt - now) + 1000)
return string.format('%.3f', at - now)`;

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async reserve(subscriptionId: number, perSecond: number): Promise<number> {
    const wait = await this.redis.eval(
      RESERVE,
      1,
      `${this.prefix}:webhook-rate:${subscriptionId}`,
      String(1000 / perSecond),
    );
    return Number(wait);
  }
}

const byConnection = new WeakMap<Redis, Throttles>();

/** The throttles of this process's drains over one Redis connection (each drain job shares them). */
export function sharedThrottles(redis: Redis, prefix: string): Throttles {
  let throttles = byConnection.get(redis);
  if (!throttles) {
    throttles = new Throttles(new RedisRateLimiter(redis, prefix));
    byConnection.set(redis, throttles);
  }
  return throttles;
}
