/**
 * Per subscription, within this process: at most max_in_flight requests at
 * once, and requests spaced by its rate limit.
 */
export class Throttle {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private nextAt = 0;

  async acquire(max: number, perSecond: number | null): Promise<void> {
    if (this.active >= max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    if (perSecond) {
      const now = Date.now();
      const at = Math.max(now, this.nextAt);
      this.nextAt = at + 1000 / perSecond;
      if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
    }
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so `active` stays counted.
    if (next) next();
    else this.active--;
  }
}

/** Throttles by subscription id, shared by every drain of this process. */
export class Throttles {
  private readonly bySubscription = new Map<number, Throttle>();

  of(subscriptionId: number): Throttle {
    let t = this.bySubscription.get(subscriptionId);
    if (!t) {
      t = new Throttle();
      this.bySubscription.set(subscriptionId, t);
    }
    return t;
  }
}

/** The throttles of this process: every drain in it shares them. */
export const processThrottles = new Throttles();
