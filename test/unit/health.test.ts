import { describe, expect, it } from "vitest";
import { accountsSpec, healthFromScore } from "../../src/imports/accounts.ts";

describe("health from the score", () => {
  it("is poor below 40, average from 40 to below 70, good from 70", () => {
    expect(healthFromScore(0)).toBe("poor");
    expect(healthFromScore(39.99)).toBe("poor");
    expect(healthFromScore(40)).toBe("average");
    expect(healthFromScore(69.99)).toBe("average");
    expect(healthFromScore(70)).toBe("good");
    expect(healthFromScore(100)).toBe("good");
  });
});

describe("an imported account's health", () => {
  const convert = (fields: Record<string, string>) =>
    accountsSpec.convert(
      { known: { get: (c: string) => fields[c] }, attributes: undefined },
      new Set<string>(),
    );
  const healthOf = (row: (string | null)[]) => row[6];

  it("keeps an explicit label over the one its score implies", () => {
    expect(
      healthOf(convert({ id: "a", provisioned_at: "2026-01-01", health_score: "90", health: "poor" })),
    ).toBe("poor");
  });

  it("is derived from the score when only the score is given, and null with neither", () => {
    expect(healthOf(convert({ id: "a", provisioned_at: "2026-01-01", health_score: "39" }))).toBe("poor");
    expect(healthOf(convert({ id: "a", provisioned_at: "2026-01-01", health_score: "70" }))).toBe("good");
    expect(healthOf(convert({ id: "a", provisioned_at: "2026-01-01" }))).toBeNull();
  });
});
