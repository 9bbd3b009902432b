import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { RuleEvaluator } from "../../src/runs/evaluate.ts";
import { evaluateEntities } from "../../src/runs/evaluate-entities.ts";
import { bulkTagSegment } from "../../src/segments/bulk.ts";
import { conditionsAsRule, validateSegmentConditions } from "../../src/segments/conditions.ts";
import { csvHeader, csvLines } from "../../src/segments/export.ts";
import { type SegmentQuery, segmentAllRows, segmentPage } from "../../src/segments/query.ts";
import { bulkTag } from "../../src/tags/bulk.ts";
import { noTagHooks } from "../../src/tags/changes.ts";
import { applyTag } from "../../src/tags/manual.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addActivity, claimsOf, lastDays } from "../helpers/workspace.ts";

const clock = { asOf: new Date("2026-03-31T12:00:00Z"), timezone: "UTC" };
const ids = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => `u${String(i + from).padStart(3, "0")}`);

describe.skipIf(backendUnavailable())("segments", () => {
  const t = useTestDatabase();
  beforeAll(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    await t.database.db.execute(sql`
      insert into users (id, account_id, email, created_at)
      select 'u' || lpad(i::text, 3, '0'), 'acc-1', 'u' || i || '@example.com', '2025-01-01T00:00:00Z'::timestamptz
      from generate_series(1, 250) i`);
    const db = t.database.db;
    // a: u001-u120; b: u101-u200; c: every even id up to u250.
    await bulkTag(db, { action: "add", type: "user", tag: "a", ids: ids(120), actor: "t" }, noTagHooks);
    await bulkTag(db, { action: "add", type: "user", tag: "b", ids: ids(100, 101), actor: "t" }, noTagHooks);
    await bulkTag(
      db,
      {
        action: "add",
        type: "user",
        tag: "c",
        ids: ids(250).filter((_, i) => i % 2 === 1),
        actor: "t",
      },
      noTagHooks,
    );
    // A second claim of the same tag (by hand besides in bulk): the entity still counts once.
    await applyTag(db, { type: "user", id: "u001", tag: "a", actor: "t" }, noTagHooks);
    await applyTag(db, { type: "user", id: "u102", tag: "b", actor: "t" }, noTagHooks);
    for (const id of ["u001", "u002", "u150"]) {
      await addActivity(t.database, { userId: id, accountId: "acc-1", days: lastDays("2026-03-31", 25) });
    }
    for (const [id, n] of [
      ["u010", 5],
      ["u130", 12],
      ["u201", 15],
      ["u202", 2],
    ] as const) {
      await addActivity(t.database, { userId: id, accountId: "acc-1", days: lastDays("2026-03-31", n) });
    }
  });

  async function allPages(q: SegmentQuery, limit: number) {
    const seen: string[] = [];
    const counts: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await segmentPage(t.database.db, q, { ...clock, cursor, limit });
      seen.push(...page.rows.map((r) => r.id));
      counts.push(page.count!);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return { seen, counts };
  }

  const cases: [string, SegmentQuery, number][] = [
    ["tagged with a", { type: "user", taggedWith: ["a"] }, 120],
    ["tagged with a and b", { type: "user", taggedWith: ["a", "B"] }, 20],
    ["tagged with a or b", { type: "user", taggedWith: ["a", "b"], match: "any" }, 200],
    ["tagged with a, not tagged c", { type: "user", taggedWith: ["a"], notTagged: ["c"] }, 60],
    ["not tagged with a nor b", { type: "user", notTagged: ["a", "b"] }, 50],
    ["everyone", { type: "user" }, 250],
    ["a tag nobody has", { type: "user", taggedWith: ["nope"] }, 0],
    ["tagged with a and b, not tagged c", { type: "user", taggedWith: ["a", "b"], notTagged: ["c"] }, 10],
    [
      "tagged with a or not tagged c",
      { type: "user", taggedWith: ["a"], notTagged: ["c"], match: "any" },
      185,
    ],
    ["tagged with a or b or c", { type: "user", taggedWith: ["a", "b", "c"], match: "any" }, 225],
    ["tagged with a or a tag nobody has", { type: "user", taggedWith: ["a", "nope"], match: "any" }, 120],
    ["tagged with a and a tag nobody has", { type: "user", taggedWith: ["a", "nope"] }, 0],
    [
      "tagged with a or not a tag nobody has",
      { type: "user", taggedWith: ["a"], notTagged: ["nope"], match: "any" },
      250,
    ],
    ["not tagged with a tag nobody has", { type: "user", notTagged: ["nope"] }, 250],
  ];
  for (const [name, q, expected] of cases) {
    it(`counts agree with the rows across all pages: ${name}`, async () => {
      for (const limit of [7, 100, 1000]) {
        const { seen, counts } = await allPages(q, limit);
        expect(new Set(counts)).toEqual(new Set([expected]));
        expect(seen).toHaveLength(expected);
        expect(new Set(seen).size).toBe(expected);
        expect([...seen].sort()).toEqual(seen);
      }
    });
  }

  it("combines tags with conditions in the rule condition format", async () => {
    const q: SegmentQuery = {
      type: "user",
      taggedWith: ["a", "b"],
      match: "any",
      conditions: {
        all: [{ fact: "activeDays", params: { days: 30 }, operator: "greaterThanInclusive", value: 20 }],
      },
    };
    const { seen, counts } = await allPages(q, 1);
    expect(seen).toEqual(["u001", "u002", "u150"]);
    expect(counts).toEqual([3, 3, 3]);
  });

  it("evaluates conditions in SQL with the answer the rule evaluator gives entity by entity", async () => {
    const active = (days: number, operator: string, value: number) => ({
      fact: "activeDays",
      params: { days },
      operator,
      value,
    });
    const conditionSets = [
      { all: [active(30, "greaterThanInclusive", 5)] },
      { any: [active(7, "greaterThan", 3), { fact: "daysSinceCreated", operator: "lessThan", value: 10 }] },
      { all: [{ not: active(30, "equal", 0) }, active(30, "lessThan", 20)] },
    ];
    const filters: Omit<SegmentQuery, "type">[] = [{}, { taggedWith: ["a"] }, { notTagged: ["c"] }];
    const everyone = ids(250);
    for (const conditions of conditionSets) {
      const rule = conditionsAsRule("user", validateSegmentConditions(conditions, "user"));
      const evaluated = await evaluateEntities(
        t.database.db,
        new RuleEvaluator(rule),
        "user",
        everyone,
        clock,
      );
      const matched = new Set(evaluated.filter((e) => e.evaluation.matched).map((e) => e.id));
      expect(matched.size).toBeGreaterThan(0);
      for (const filter of filters) {
        const tagged = (await allPages({ type: "user", ...filter }, 1000)).seen;
        const expected = tagged.filter((id) => matched.has(id));
        for (const limit of [3, 1000]) {
          const { seen, counts } = await allPages({ type: "user", ...filter, conditions }, limit);
          expect(seen).toEqual(expected);
          expect(new Set(counts)).toEqual(new Set([expected.length]));
        }
      }
    }
  });

  it("refuses conditions the rule validator refuses, naming where", async () => {
    const q: SegmentQuery = {
      type: "user",
      conditions: { all: [{ fact: "activeDay", params: { days: 30 }, operator: "greaterThan", value: 1 }] },
    };
    await expect(segmentPage(t.database.db, q, clock)).rejects.toMatchObject({
      code: "invalid_conditions",
      details: { problems: [{ pointer: "/conditions/all/0/fact", suggestion: "activeDays" }] },
    });
  });

  it("reports tag names that name no tag", async () => {
    const page = await segmentPage(t.database.db, { type: "user", notTagged: ["a", "zzz"] }, clock);
    expect(page.unknownTags).toEqual(["zzz"]);
  });

  it("exports every row as CSV with the entity's tags", async () => {
    let csv = csvHeader("user");
    for await (const rows of segmentAllRows(t.database.db, { type: "user", taggedWith: ["b"] }, clock)) {
      csv += csvLines("user", rows);
    }
    const lines = csv.trim().split("\n");
    expect(lines[0]).toBe("id,account_id,email,name,created_at,tags");
    expect(lines).toHaveLength(101);
    expect(lines[1]).toBe("u101,acc-1,u101@example.com,,2025-01-01T00:00:00.000Z,a;b");
    expect(lines[2]).toBe("u102,acc-1,u102@example.com,,2025-01-01T00:00:00.000Z,a;b;c");
  });

  it("tags every entity of a segment in bulk", async () => {
    const result = await bulkTagSegment(
      t.database.db,
      { type: "user", taggedWith: ["a", "b"] },
      { ...clock, action: "add", tag: "overlap", actor: "admin" },
      noTagHooks,
    );
    expect(result).toMatchObject({ requested: 20, claimsChanged: 20, membershipsChanged: 20 });
    const claims = await claimsOf(t.database, "overlap");
    expect(claims.map((c) => c.entity_id)).toEqual(ids(20, 101));
    expect(new Set(claims.map((c) => c.source))).toEqual(new Set(["bulk"]));
  });
});
