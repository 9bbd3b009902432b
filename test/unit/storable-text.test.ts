import { describe, expect, it } from "vitest";
import { unstorableField, unstorableText } from "../../src/storable-text.ts";

describe("text Postgres cannot store", () => {
  it("finds a NUL character and lone surrogates, and passes whole surrogate pairs", () => {
    expect(unstorableText("a\u0000b")?.code).toBe("nul_character");
    expect(unstorableText("a\ud800")?.code).toBe("lone_surrogate");
    expect(unstorableText("\udc00b")?.code).toBe("lone_surrogate");
    expect(unstorableText("\ud83d\ud83d\ude80")?.problem).toMatch(/\(\\ud83d\)/);
    expect(unstorableText("rocket \u{1f680}, café")).toBeUndefined();
  });

  it("names the field of a nested value or key, walking deep nesting without recursion", () => {
    expect(unstorableField({ note: { deep: ["ok", "x\u0000"] } }, "traits")).toMatchObject({
      field: "traits.note.deep[1]",
      code: "nul_character",
    });
    expect(unstorableField({ "k\ud800": 1 }, "")).toMatchObject({ field: 'key "k\\ud800"' });
    let deep: unknown = "bad\u0000";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(unstorableField(deep, "body")?.code).toBe("nul_character");
    expect(unstorableField({ a: [1, null, true, { b: "fine" }] }, "body")).toBeUndefined();
  });
});
