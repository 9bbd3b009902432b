/**
 * Where a subscription's rate limit (`rate_per_second`) is kept. It must hold
 * across every process that delivers (several workers, several hosts), so
 * workers keep it in Redis (src/jobs/webhook-rate.ts); `signaltag serve`
 * without a queue is the only process that delivers, and keeps it in memory.
 */
export interface RateLimiter {
  /**
   * Reserves the next start time of a request to this subscription, at most
   * `perSecond` starts a second, spaced evenly; says how long to wait (ms)
   * before starting it.
   */
  reserve(subscriptionId: number, perSecond: number): Promise<number>;
}

/** Starts spaced 1/perSecond s apart, within this process. */
export class LocalRateLimiter implements RateLimiter {
  private readonly nextAt = new Map<number, number>();

  async reserve(subscriptionId: number, perSecond: number): Promise<number> {
    const now = Date.now();
    const at = Math.max(now, this.nextAt.get(subscriptionId) ?? 0);
    this.nextAt.set(subscriptionId, at + 1000 / perSecond);
    return at - now;
  }
}

/**
 * Per subscription, within this process: at most max_in_flight requests at
 * once; and, with a rate limit, each request started when its limiter says.
 */
export class Throttle {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly subscriptionId: number,
    private readonly limiter: RateLimiter,
  ) {}

  async acquire(max: number, perSecond: number | null): Promise<void> {
    if (this.active >= max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    if (perSecond) {
      let wait: number;
      try {
        wait = await this.limiter.reserve(this.subscriptionId, perSecond);
      } catch (err) {
        this.release();
        throw err;
      }
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so `active` stays counted.
    if (next) next();
    else this.active--;
  }
}

/** Throttles by subscription id, shared by every drain of this process that uses the same limiter. */
export class Throttles {
  private readonly bySubscription = new Map<number, Throttle>();

  constructor(readonly limiter: RateLimiter = new LocalRateLimiter()) {}

  of(subscriptionId: number): Throttle {
    let t = this.bySubscription.get(subscriptionId);
    if (!t) {
      t = new Throttle(subscriptionId, this.limiter);
      this.bySubscription.set(subscriptionId, t);
    }
    return t;
  }
}

/** The throttles of this process with an in-memory rate limit (serve without a queue, tests). */
export const processThrottles = new Throttles();
