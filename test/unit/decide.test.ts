import { describe, expect, it } from "vitest";
import { claimedAfter, type Decision, decide } from "../../src/runs/decide.ts";

type Row = [matched: boolean, exitMatched: boolean | undefined, suppressed: boolean, held: boolean, Decision];

/** Every combination of the inputs, with what the rule does. */
const table: Row[] = [
  // Without exit conditions the rule wants the tag while its conditions match.
  [false, undefined, false, false, "none"],
  [true, undefined, false, false, "gain"],
  [false, undefined, false, true, "lose"],
  [true, undefined, false, true, "keep"],
  [false, undefined, true, false, "none"],
  [true, undefined, true, false, "none"],
  [false, undefined, true, true, "lose"],
  [true, undefined, true, true, "lose"],
  // With exit conditions an entity without the claim still gains it only by the conditions...
  [false, false, false, false, "none"],
  [false, true, false, false, "none"],
  [true, false, false, false, "gain"],
  [true, true, false, false, "gain"],
  // ...and a held claim stays until the exit conditions match, whatever the conditions say.
  [false, false, false, true, "keep"],
  [true, false, false, true, "keep"],
  [false, true, false, true, "lose"],
  [true, true, false, true, "lose"],
  // A suppression in force overrides the rule either way.
  [false, false, true, false, "none"],
  [false, true, true, false, "none"],
  [true, false, true, false, "none"],
  [true, true, true, false, "none"],
  [false, false, true, true, "lose"],
  [true, false, true, true, "lose"],
  [false, true, true, true, "lose"],
  [true, true, true, true, "lose"],
];

describe("decide", () => {
  it.each(table)(
    "matched %s, exit matched %s, suppressed %s, held %s: %s",
    (matched, exitMatched, suppressed, held, expected) => {
      expect(decide({ matched, exitMatched, suppressed, held })).toBe(expected);
    },
  );

  it("covers every combination of its inputs once", () => {
    const keys = new Set(table.map(([m, e, s, h]) => `${m}/${e}/${s}/${h}`));
    expect(keys.size).toBe(2 * 3 * 2 * 2);
  });

  it("leaves the claim in place after gain and keep only", () => {
    expect((["gain", "keep", "lose", "none"] as const).map(claimedAfter)).toEqual([true, true, false, false]);
  });
});
