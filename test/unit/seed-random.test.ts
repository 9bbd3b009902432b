import { describe, expect, it } from "vitest";
import { Calendar } from "../../src/seed/calendar.ts";
import { Deck, rngFor } from "../../src/seed/random.ts";

describe("seed randomness", () => {
  it("repeats the same sequence for the same seed, stream and index", () => {
    const draw = (seed: number, stream: number, index: number) => {
      const rng = rngFor(seed, stream, index);
      return Array.from({ length: 5 }, () => rng.next());
    };
    expect(draw(1, 2, 3)).toEqual(draw(1, 2, 3));
    expect(draw(1, 2, 3)).not.toEqual(draw(2, 2, 3));
    expect(draw(1, 2, 3)).not.toEqual(draw(1, 3, 3));
    expect(draw(1, 2, 3)).not.toEqual(draw(1, 2, 4));
    expect(draw(2 ** 40, 2, 3)).not.toEqual(draw(0, 2, 3));
  });

  it("draws floats in [0, 1) that look uniform", () => {
    const rng = rngFor(7, 1, 0);
    const buckets = new Array(10).fill(0);
    let min = 1;
    let max = 0;
    for (let i = 0; i < 100_000; i++) {
      const f = rng.float();
      min = Math.min(min, f);
      max = Math.max(max, f);
      buckets[Math.floor(f * 10)]++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });

  it("deals every card of the deck once per block", () => {
    const deck = new Deck(3, 9, ["a", "b", "b", "c"]);
    for (let block = 0; block < 5; block++) {
      const dealt = [0, 1, 2, 3].map((i) => deck.at(block * 4 + i));
      expect(dealt.sort()).toEqual(["a", "b", "b", "c"]);
    }
  });
});

describe("the seed calendar", () => {
  it("takes today from the as-of instant in the workspace time zone", () => {
    const asOf = new Date("2026-03-15T02:00:00Z");
    expect(new Calendar(asOf, "UTC", 60).today).toBe("2026-03-15");
    expect(new Calendar(asOf, "America/Los_Angeles", 60).today).toBe("2026-03-14");
    expect(new Calendar(asOf, "Asia/Tokyo", 60).today).toBe("2026-03-15");
  });

  it("knows day boundaries across a daylight-saving change", () => {
    // Berlin moves its clocks forward on 29 March 2026: that day has 23 hours.
    const cal = new Calendar(new Date("2026-03-30T10:00:00Z"), "Europe/Berlin", 60);
    expect(cal.date(1)).toBe("2026-03-29");
    expect(new Date(cal.start(1)).toISOString()).toBe("2026-03-28T23:00:00.000Z");
    expect(cal.end(1) - cal.start(1)).toBe(23 * 3_600_000);
    expect(cal.dayOf(Date.parse("2026-03-29T21:59:59.999Z"))).toBe(1);
    expect(cal.dayOf(Date.parse("2026-03-29T22:00:00Z"))).toBe(0);
    expect(cal.dateOf(Date.parse("2025-12-31T23:30:00Z"))).toBe("2026-01-01");
    expect(cal.date(-2)).toBe("2026-04-01");
    expect(cal.weekend(1)).toBe(true);
    expect(cal.weekend(0)).toBe(false);
  });
});
