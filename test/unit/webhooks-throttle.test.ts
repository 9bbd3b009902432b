import { describe, expect, it } from "vitest";
import { LocalRateLimiter, Throttle } from "../../src/webhooks/throttle.ts";

describe("a subscription's throttle", () => {
  it("lets at most max_in_flight requests through and passes a released slot to the next in line", async () => {
    const throttle = new Throttle(1, new LocalRateLimiter());
    const entered: number[] = [];
    const tries = [1, 2, 3, 4].map((n) => throttle.acquire(2, null).then(() => entered.push(n)));
    await Promise.resolve();
    await Promise.resolve();
    expect(entered).toEqual([1, 2]);
    throttle.release();
    await tries[2];
    expect(entered).toEqual([1, 2, 3]);
    throttle.release();
    throttle.release();
    await tries[3];
    expect(entered).toEqual([1, 2, 3, 4]);
    throttle.release();
    // Every slot is free again: two more enter at once.
    const again: number[] = [];
    await Promise.all([5, 6].map((n) => throttle.acquire(2, null).then(() => again.push(n))));
    expect(again).toEqual([5, 6]);
  });
});
