import { type SQL, sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { activeDaysIn, lastActiveDay } from "../../src/facts/sql/activity-summary.ts";
import { addDays } from "../../src/facts/time.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";

/**
 * activity_summary is kept by triggers on activity_daily. Whatever sequence of
 * inserts, upserts, deletes, key updates and truncates hits the rollups, every
 * summary must equal one built from scratch, and the facts read from it
 * (active days in any window ending on any day, the last active day on or
 * before any day) must equal a recount of the rollups.
 */
const base = "2026-01-01";
const ids = ["u1", "u2", "u3", "a1"];

type Op =
  | { kind: "insert"; rows: { id: string; offset: number; activity: string }[] }
  | { kind: "delete"; id: string; from: number; to: number }
  | { kind: "move"; id: string; from: number; shift: number }
  | { kind: "truncate" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      rows: fc.array(
        fc.record({
          id: fc.constantFrom(...ids),
          offset: fc.integer({ min: 0, max: 70 }),
          activity: fc.constantFrom("login", "export"),
        }),
        { minLength: 1, maxLength: 25 },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("delete" as const),
      id: fc.constantFrom(...ids),
      from: fc.integer({ min: 0, max: 70 }),
      to: fc.integer({ min: 0, max: 70 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("move" as const),
      id: fc.constantFrom(...ids),
      from: fc.integer({ min: 0, max: 70 }),
      shift: fc.integer({ min: -5, max: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "truncate" as const }) },
);

const typeOf = (id: string) => (id.startsWith("a") ? "account" : "user");

describe.skipIf(backendUnavailable())("activity summary", () => {
  const t = useTestDatabase();

  async function apply(o: Op): Promise<void> {
    const db = t.database.db;
    switch (o.kind) {
      case "insert":
        // An upsert like the importer's: existing rows only change their count.
        await db.execute(sql`
          insert into activity_daily (entity_type, entity_id, day, activity, module, count)
          select distinct on (entity_type, entity_id, day, activity) entity_type, entity_id, day, activity, '', 1
          from (values ${sql.join(
            o.rows.map(
              (r) => sql`(${typeOf(r.id)}, ${r.id}, ${addDays(base, r.offset)}::date, ${r.activity})`,
            ),
            sql`, `,
          )}) v(entity_type, entity_id, day, activity)
          on conflict (entity_type, entity_id, day, activity, module)
          do update set count = activity_daily.count + 1`);
        return;
      case "delete":
        await db.execute(sql`
          delete from activity_daily where entity_id = ${o.id}
            and day between ${addDays(base, Math.min(o.from, o.to))}::date and ${addDays(base, Math.max(o.from, o.to))}::date`);
        return;
      case "move":
        // Moves whole days of one entity, skipping rows that would collide with existing keys.
        await db.execute(sql`
          update activity_daily d set day = d.day + ${o.shift}::int
          where d.entity_id = ${o.id} and d.day >= ${addDays(base, o.from)}::date
            and not exists (select 1 from activity_daily x where x.entity_type = d.entity_type
              and x.entity_id = d.entity_id and x.day = d.day + ${o.shift}::int)`);
        return;
      case "truncate":
        await db.execute(sql`truncate activity_daily`);
        return;
    }
  }

  /** The stored summaries equal summaries built from scratch. */
  async function expectSummariesOfRollups(): Promise<void> {
    const stored = await rows<{
      entity_type: string;
      entity_id: string;
      first_day: string;
      last_day: string;
      days: string;
    }>(
      t.database.db,
      sql`select entity_type, entity_id, first_day::text, last_day::text, days::text from activity_summary order by 1, 2`,
    );
    const recount = await rows<{ entity_type: string; entity_id: string; days: string[] }>(
      t.database.db,
      sql`select entity_type, entity_id, array_agg(distinct day::text order by day::text) as days
          from activity_daily group by 1, 2 order by 1, 2`,
    );
    expect(stored.map((s) => [s.entity_type, s.entity_id])).toEqual(
      recount.map((r) => [r.entity_type, r.entity_id]),
    );
    for (const [i, r] of recount.entries()) {
      const s = stored[i]!;
      expect(s.first_day).toBe(r.days[0]);
      expect(s.last_day).toBe(r.days[r.days.length - 1]);
      const expected = [...s.days].map((_, k) => (r.days.includes(addDays(s.first_day, k)) ? "1" : "0"));
      expect(s.days).toBe(expected.join(""));
    }
  }

  it("equals a recount of the rollups after any sequence of writes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        await t.database.db.execute(sql`truncate activity_daily`);
        for (const o of ops) await apply(o);

        await expectSummariesOfRollups();

        // The facts read from the summaries equal those counted from the rollups, on every day and window.
        const mismatches = await rows<{ entity_id: string; today: string; n: number }>(
          t.database.db,
          sql`with grid as (
                select e.entity_type, e.entity_id, today::date as today, n
                from (select distinct entity_type, entity_id from activity_daily) e,
                     generate_series(${addDays(base, -3)}::date, ${addDays(base, 80)}::date, interval '1 day') today,
                     unnest(array[1, 2, 7, 30, 45]) n)
              select g.entity_id, g.today::text as today, g.n
              from grid g left join activity_summary sm on sm.entity_type = g.entity_type and sm.entity_id = g.entity_id
              where coalesce(${activeDaysIn(sql`sm`, sql`g.today`, sql`g.n`)}, 0)
                    <> (select count(distinct d.day) from activity_daily d where d.entity_type = g.entity_type
                          and d.entity_id = g.entity_id and d.day > g.today - g.n and d.day <= g.today)
                 or ${lastActiveDay(sql`sm`, sql`g.today`)}
                    is distinct from (select max(d.day) from activity_daily d where d.entity_type = g.entity_type
                          and d.entity_id = g.entity_id and d.day <= g.today)
              limit 5`,
        );
        expect(mismatches).toEqual([]);
      }),
      { numRuns: testBackend() === "pglite" ? 40 : 150 },
    );
  });

  it("logs the entities of count updates, and both entities of a rollup moved to another", async () => {
    const db = t.database.db;
    await db.execute(sql`truncate activity_daily`);
    await db.execute(sql`insert into activity_daily (entity_type, entity_id, day, activity, module, count)
        values ('user', 'u1', ${base}::date, 'login', '', 1), ('user', 'u2', ${base}::date, 'login', '', 1)`);
    const logged = async (write: SQL) =>
      db.transaction(async (tx) => {
        await tx.execute(write);
        const r = await rows<{ entity_id: string }>(
          tx,
          sql`select distinct entity_id from entity_changes
              where txid = pg_current_xact_id() and kind = 'activity' order by 1`,
        );
        return r.map((x) => x.entity_id);
      });
    // Only the count changes: the entity is logged, its summary stays.
    expect(
      await logged(sql`insert into activity_daily (entity_type, entity_id, day, activity, module, count)
          values ('user', 'u1', ${base}::date, 'login', '', 1)
          on conflict (entity_type, entity_id, day, activity, module)
          do update set count = activity_daily.count + excluded.count`),
    ).toEqual(["u1"]);
    await expectSummariesOfRollups();
    // A hand-written update moves u2's rollup to u3 a day later: both entities changed.
    expect(
      await logged(sql`update activity_daily set entity_id = 'u3', day = day + 1 where entity_id = 'u2'`),
    ).toEqual(["u2", "u3"]);
    await expectSummariesOfRollups();
  });

  it("keeps the summaries of one insert whose days span more than 4096 days", async () => {
    const db = t.database.db;
    await db.execute(sql`truncate activity_daily`);
    const insert = (values: [string, number][]) =>
      db.execute(sql`
        insert into activity_daily (entity_type, entity_id, day, activity, module, count)
        select entity_type, entity_id, day, 'login', '', 1
        from (values ${sql.join(
          values.map(([id, offset]) => sql`(${typeOf(id)}, ${id}, ${addDays(base, offset)}::date)`),
          sql`, `,
        )}) v(entity_type, entity_id, day)`);
    await insert([
      ["u1", 0],
      ["u1", 12],
      ["a1", 3],
    ]);
    await insert([
      ["u1", 5000],
      ["u1", -20],
      ["u2", 7],
      ["a1", -4200],
      ["a1", 4],
    ]);
    await insert([
      ["u2", 9],
      ["u1", 6],
    ]);
    await expectSummariesOfRollups();
  });
});
