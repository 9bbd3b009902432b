import { describe, expect, it } from "vitest";
import { runDeduplicationId } from "../../src/jobs/enqueue-run.ts";
import { entitiesDeduplicationId } from "../../src/jobs/evaluate-entities.ts";

describe("what makes two queued requests the same job", () => {
  it("names a run by its rules, its as-of instant and its flags", () => {
    expect(runDeduplicationId([], undefined, {})).toBe("run.all.now");
    expect(runDeduplicationId(["a", "b"], "2026-03-31T12:00:00.000Z", { force: true, full: true })).toBe(
      "run.a,b.2026-03-31T12:00:00.000Z.force.full",
    );
    expect(runDeduplicationId(["a"], undefined, { full: true })).toBe("run.a.now.full");
  });

  it("names one entity's re-evaluation by its id and several by a digest of theirs", () => {
    expect(entitiesDeduplicationId("user", ["u1"], false)).toBe("entity.user.u1");
    expect(entitiesDeduplicationId("account", ["a1"], true)).toBe("entity.account.a1.tags");
    const several = entitiesDeduplicationId("user", ["u1", "u2"], false);
    expect(several).toMatch(/^entities\.user\.[0-9a-f]{24}$/);
    expect(entitiesDeduplicationId("user", ["u1", "u2"], false)).toBe(several);
    expect(entitiesDeduplicationId("user", ["u1", "u3"], false)).not.toBe(several);
    expect(entitiesDeduplicationId("user", ["u1", "u2"], true)).toBe(`${several}.tags`);
  });
});
