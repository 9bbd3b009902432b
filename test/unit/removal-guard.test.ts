import { describe, expect, it } from "vitest";
import type { LoadedRule } from "../../src/rules/types.ts";
import { guardHolds } from "../../src/runs/rule-run.ts";

const rule = (removalGuard?: number) =>
  ({
    definition: {
      id: "r",
      name: "R",
      tag: "t",
      target: "user",
      enabled: true,
      conditions: { all: [] },
      ...(removalGuard === undefined ? {} : { removalGuard }),
    },
    version: "v",
    file: "r.json",
  }) as unknown as LoadedRule;

describe("the mass-removal guard", () => {
  const policy = { removalGuard: 0.5 };

  it("holds a run that would remove more than the allowed share, and says so", () => {
    expect(guardHolds(rule(), policy, { claimsBefore: 10, removed: 6 })).toBe(
      "would remove 6 of 10 claims (more than 50 %); run with --force to apply",
    );
  });

  it("lets through a run that removes the allowed share or less", () => {
    expect(guardHolds(rule(), policy, { claimsBefore: 10, removed: 5 })).toBeUndefined();
    expect(guardHolds(rule(), policy, { claimsBefore: 10, removed: 0 })).toBeUndefined();
  });

  it("does not judge a rule with fewer claims than the minimum", () => {
    expect(guardHolds(rule(), policy, { claimsBefore: 4, removed: 4 })).toBeUndefined();
    expect(
      guardHolds(rule(), { ...policy, removalGuardMinClaims: 2 }, { claimsBefore: 4, removed: 4 }),
    ).toBeDefined();
  });

  it("prefers the rule's own share to the global one", () => {
    expect(guardHolds(rule(0.8), policy, { claimsBefore: 10, removed: 7 })).toBeUndefined();
    expect(guardHolds(rule(0.1), policy, { claimsBefore: 10, removed: 2 })).toBe(
      "would remove 2 of 10 claims (more than 10 %); run with --force to apply",
    );
  });

  it("lets a forced run through", () => {
    expect(guardHolds(rule(), { ...policy, force: true }, { claimsBefore: 10, removed: 10 })).toBeUndefined();
  });
});
