import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { rebuildRollups } from "../../src/imports/rollups.ts";
import { seedWorkspace } from "../../src/seed/seed-workspace.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

const asOf = "2026-03-15T15:30:00Z";
const today = "2026-03-15";
const small = ["--accounts", "20", "--users", "200", "--days", "60", "--as-of", asOf];

describe.skipIf(backendUnavailable())("signaltag seed", () => {
  const t = useTestDatabase();
  const one = async <T>(query: ReturnType<typeof sql>) => (await rows<T>(t.database.db, query))[0] as T;
  const tableCounts = () =>
    one<{ accounts: number; users: number; events: number; rollups: number }>(sql`
      select (select count(*) from accounts)::int as accounts, (select count(*) from users)::int as users,
             (select count(*) from activity_events)::int as events,
             (select count(*) from activity_daily)::int as rollups`);
  /** Rollup rows that differ from a recount of the raw events, in either direction. */
  const rollupMismatches = (timezone: string) =>
    one<{ n: number }>(sql`
      with recount as (
        select entity_type, entity_id, day, activity, module, sum(count)::bigint as count
        from (
          select 'account' as entity_type, account_id as entity_id, (occurred_at at time zone ${timezone})::date as day,
                 activity, coalesce(module, '') as module, count
          from activity_events
          union all
          select 'user', user_id, (occurred_at at time zone ${timezone})::date, activity, coalesce(module, ''), count
          from activity_events where user_id is not null
        ) c
        group by 1, 2, 3, 4, 5
      ),
      stored as (select entity_type, entity_id, day, activity, module, count from activity_daily),
      diff as ((select * from recount except all select * from stored)
               union all (select * from stored except all select * from recount))
      select count(*)::int as n from diff`);

  describe("on an empty workspace", () => {
    let stdout = "";
    beforeAll(async () => {
      await t.reset();
      const result = await runCli(t.database, ["seed", ...small]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      stdout = result.stdout;
    });

    it("loads the accounts, users and events it reports", async () => {
      const counts = await tableCounts();
      expect(counts.accounts).toBe(20);
      expect(counts.users).toBe(200);
      expect(counts.events).toBeGreaterThan(1000);
      expect(counts.rollups).toBeGreaterThan(counts.events);
      expect(stdout).toMatch(
        new RegExp(
          `^seeded 20 accounts, 200 users, ${counts.events.toLocaleString("en-US")} events \\(${counts.rollups.toLocaleString("en-US")} daily rollup rows\\) over 60 days to ${today}, seed 1, in [0-9.]+s\\n$`,
        ),
      );
    });

    it("keeps rollups equal to a recount of the raw events", async () => {
      expect((await rollupMismatches("UTC")).n).toBe(0);
    });

    it("builds the same rollups as the shared rebuild used by imports", async () => {
      const fingerprint = () =>
        one<{ rollups: string }>(sql`
          select md5(string_agg(concat_ws('|', entity_type, entity_id, day, activity, module, count), ','
                 order by entity_type, entity_id, day, activity, module)) as rollups
          from activity_daily`);
      const seeded = await fingerprint();
      await rebuildRollups(t.database.db, "UTC");
      expect(await fingerprint()).toEqual(seeded);
    });

    it("spreads history over the 60 days ending today and nothing later", async () => {
      const span = await one<{ first: string; last: string; days: number; latest: string }>(sql`
        select min(day)::text as first, max(day)::text as last, count(distinct day)::int as days
        from activity_daily`);
      expect(span).toEqual({ first: "2026-01-15", last: today, days: 60 });
      const latest = await one<{ after: number }>(
        sql`select count(*)::int as after from activity_events where occurred_at > ${asOf}::timestamptz`,
      );
      expect(latest.after).toBe(0);
    });

    it("has users of every engagement tier", async () => {
      const tiers = await one<{ power: number; regular: number; inactive: number; never: number }>(sql`
        with recent as (
          select u.id, count(distinct d.day) as days
          from users u
          left join activity_daily d on d.entity_type = 'user' and d.entity_id = u.id
            and d.day > ${today}::date - 30 and d.day <= ${today}::date
          group by u.id
        )
        select count(*) filter (where days >= 20)::int as power,
               count(*) filter (where days between 1 and 19)::int as regular,
               count(*) filter (where days = 0)::int as inactive,
               (select count(*)::int from users u
                where not exists (select 1 from activity_events e where e.user_id = u.id)) as never
        from recent`);
      expect(tiers.power).toBeGreaterThanOrEqual(5);
      expect(tiers.regular).toBeGreaterThanOrEqual(20);
      expect(tiers.inactive).toBeGreaterThanOrEqual(20);
      expect(tiers.never).toBeGreaterThan(0);
      expect(tiers.never).toBeLessThan(tiers.inactive);
    });

    it("gives every standard rule something to match", async () => {
      const sets = await one<{
        newUsers: number;
        newAccounts: number;
        renewalRisk: number;
        accountEvents: number;
        modules: number;
      }>(sql`
        select
          (select count(*)::int from users
           where ${today}::date - (created_at at time zone 'UTC')::date < 30) as "newUsers",
          (select count(*)::int from accounts
           where ${today}::date - (provisioned_at at time zone 'UTC')::date < 30) as "newAccounts",
          (select count(*)::int from accounts
           where contract_status = 'paying' and health = 'poor'
             and renewal_date - ${today}::date between 0 and 90) as "renewalRisk",
          (select count(*)::int from activity_events where user_id is null) as "accountEvents",
          (select count(distinct module)::int from activity_events) as modules`);
      expect(sets.newUsers).toBeGreaterThan(0);
      expect(sets.newUsers).toBeLessThan(200);
      expect(sets.newAccounts).toBeGreaterThan(0);
      expect(sets.newAccounts).toBeLessThan(20);
      expect(sets.renewalRisk).toBeGreaterThan(0);
      expect(sets.accountEvents).toBeGreaterThan(0);
      expect(sets.modules).toBeGreaterThanOrEqual(4);
    });

    it("mixes contract statuses, missing renewals and scores with and without labels", async () => {
      const mix = await one<{ statuses: number; noStatus: number; noRenewal: number; labelOnly: number }>(sql`
        select count(distinct contract_status)::int as statuses,
               count(*) filter (where contract_status is null)::int as "noStatus",
               count(*) filter (where renewal_date is null)::int as "noRenewal",
               count(*) filter (where health_score is null and health is not null)::int as "labelOnly"
        from accounts`);
      expect(mix.statuses).toBe(3);
      expect(mix.noStatus).toBeGreaterThan(0);
      expect(mix.noRenewal).toBeGreaterThan(0);
      const scored = await rows<{ score: number; health: string }>(
        t.database.db,
        sql`select health_score as score, health from accounts where health_score is not null`,
      );
      expect(scored.length).toBeGreaterThan(5);
    });

    it("refuses a workspace that already holds data and changes nothing", async () => {
      const before = await tableCounts();
      const result = await runCli(t.database, ["seed", ...small, "--seed", "2"]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/workspace is not empty \(20 accounts, 200 users, activity events\)/);
      expect(result.stderr).toMatch(/--replace/);
      expect(await tableCounts()).toEqual(before);
    });

    it("refuses bad options before touching the database", async () => {
      const before = await tableCounts();
      for (const args of [
        ["--accounts", "0"],
        ["--users", "ten"],
        ["--days", "-3"],
        ["--as-of", "yesterday"],
      ]) {
        const result = await runCli(t.database, ["seed", "--replace", ...args]);
        expect(result.code, args.join(" ")).toBe(2);
        expect(result.stderr).toMatch(new RegExp(args[0]!));
      }
      expect(await tableCounts()).toEqual(before);
    });
  });

  describe("with --replace", () => {
    it("empties the workspace and what was said about it, keeping tags, then seeds", async () => {
      await t.reset();
      expect((await runCli(t.database, ["seed", ...small])).code).toBe(0);
      await t.database.db.execute(sql`insert into tags (name) values ('vip')`);
      await t.database.db.execute(sql`
        insert into claims (source, tag_id, entity_type, entity_id)
        select 'manual', id, 'account', 'acc-000001' from tags where name = 'vip'`);

      const result = await runCli(t.database, [
        "seed",
        ...small,
        "--accounts",
        "10",
        "--users",
        "50",
        "--replace",
      ]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^seeded 10 accounts, 50 users, .* replacing the previous workspace, in/);
      const counts = await tableCounts();
      expect(counts.accounts).toBe(10);
      expect(counts.users).toBe(50);
      const left = await one<{ claims: number; tags: number }>(
        sql`select (select count(*)::int from claims) as claims, (select count(*)::int from tags) as tags`,
      );
      expect(left).toEqual({ claims: 0, tags: 1 });
      expect((await rollupMismatches("UTC")).n).toBe(0);
    });

    it("reproduces the same rows from the same options", async () => {
      const fingerprint = () =>
        one<{ accounts: string; users: string; events: string }>(sql`
          select
            (select md5(string_agg(concat_ws('|', id, name, provisioned_at, contract_status, renewal_date,
                    health_score, health, attributes::text), ',' order by id)) from accounts) as accounts,
            (select md5(string_agg(concat_ws('|', id, account_id, email, name, created_at, attributes::text),
                    ',' order by id)) from users) as users,
            (select md5(string_agg(concat_ws('|', user_id, account_id, activity, module, occurred_at, count),
                    ',' order by id)) from activity_events) as events`);
      await runCli(t.database, ["seed", ...small, "--replace"]);
      const first = await fingerprint();
      await runCli(t.database, ["seed", ...small, "--replace"]);
      expect(await fingerprint()).toEqual(first);
      await runCli(t.database, ["seed", ...small, "--replace", "--seed", "7"]);
      const other = await fingerprint();
      expect(other.accounts).not.toBe(first.accounts);
      expect(other.events).not.toBe(first.events);
    });
  });

  it("dates days in the workspace time zone", async () => {
    await t.reset();
    const timezone = "America/Los_Angeles";
    // 02:00 UTC on the 15th is still the 14th in Los Angeles.
    const result = await seedWorkspace(
      t.database,
      { accounts: 5, users: 40, days: 10, seed: 3, asOf: new Date("2026-03-15T02:00:00Z"), replace: false },
      { timezone },
    );
    expect(result.today).toBe("2026-03-14");
    expect(result.counts.accounts).toBe(5);
    expect(result.counts.users).toBe(40);
    expect((await rollupMismatches(timezone)).n).toBe(0);
    const span = await one<{ first: string; last: string }>(
      sql`select min(day)::text as first, max(day)::text as last from activity_daily`,
    );
    expect(span).toEqual({ first: "2026-03-05", last: "2026-03-14" });
  });

  it("reports its progress phase by phase", async () => {
    await t.reset();
    const phases: string[] = [];
    await seedWorkspace(
      t.database,
      { accounts: 3, users: 10, days: 5, asOf: new Date(asOf) },
      { timezone: "UTC", onProgress: (p) => phases.at(-1) !== p.phase && phases.push(p.phase) },
    );
    expect(phases).toEqual(["accounts", "users", "events", "rollups", "analyze"]);
  });
});
