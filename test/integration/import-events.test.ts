import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { importAccounts, importEvents, importUsers } from "../../src/imports/index.ts";
import {
  count,
  csv,
  importEventOwners,
  ndjson,
  snapshot,
  useImportFiles,
} from "../fixtures/imports/files.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";

interface EventRow {
  event_id: string | null;
  user_id: string | null;
  account_id: string;
  activity: string;
  module: string | null;
  occurred_at: string;
  count: number;
}

interface DailyRow {
  entity_type: string;
  entity_id: string;
  day: string;
  activity: string;
  module: string;
  count: number;
}

describe.skipIf(backendUnavailable())("import events", () => {
  const t = useTestDatabase();
  const files = useImportFiles();
  beforeEach(async () => {
    await t.reset();
    await importEventOwners(t.database, files);
  });

  /**
   * Why an events import left the direct path: `reason` on a Postgres server,
   * where a plain CSV file takes it; PGlite has none.
   */
  const leftDirect = (reason: string) => (testBackend() === "postgres" ? reason : "embedded database");

  async function events(): Promise<EventRow[]> {
    const result = await rows<EventRow>(
      t.database.db,
      sql`select event_id, user_id, account_id, activity, module,
            to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as occurred_at, count
          from activity_events order by event_id, occurred_at, user_id, account_id, count`,
    );
    return result.map((r) => ({ ...r, count: Number(r.count) }));
  }

  async function daily(): Promise<DailyRow[]> {
    const result = await rows<DailyRow>(
      t.database.db,
      sql`select entity_type, entity_id, day::text as day, activity, module, count
          from activity_daily order by entity_type, entity_id, day, activity, module`,
    );
    return result.map((r) => ({ ...r, count: Number(r.count) }));
  }

  /** The rollups recomputed from the raw events, in `timezone`. */
  async function recount(timezone: string): Promise<DailyRow[]> {
    const result = await rows<DailyRow>(
      t.database.db,
      sql`select entity_type, entity_id, day::text as day, activity, module, sum(count)::bigint as count
          from (
            select 'account' as entity_type, account_id as entity_id, (occurred_at at time zone ${timezone})::date as day,
                   activity, coalesce(module, '') as module, count from activity_events
            union all
            select 'user', user_id, (occurred_at at time zone ${timezone})::date, activity, coalesce(module, ''), count
            from activity_events where user_id is not null
          ) e
          group by entity_type, entity_id, day, activity, module
          order by entity_type, entity_id, day, activity, module`,
    );
    return result.map((r) => ({ ...r, count: Number(r.count) }));
  }

  const goodCsv = csv([
    "user_id,account_id,activity,module,occurred_at,count,event_id",
    "u-1,a-1,login,,2024-01-05T23:30:00-05:00,,e-1",
    'u-1,a-1,"report, viewed","dash ""beta""",2024-01-06T01:00:00Z,3,e-2',
    "u-2,,export,reports,2024-01-06 12:00,2,e-3",
    ",a-2,sync,api,2024-01-06,1,e-4",
  ]);
  const expectedEvents: EventRow[] = [
    {
      event_id: "e-1",
      user_id: "u-1",
      account_id: "a-1",
      activity: "login",
      module: null,
      occurred_at: "2024-01-06T04:30:00Z",
      count: 1,
    },
    {
      event_id: "e-2",
      user_id: "u-1",
      account_id: "a-1",
      activity: "report, viewed",
      module: 'dash "beta"',
      occurred_at: "2024-01-06T01:00:00Z",
      count: 3,
    },
    {
      event_id: "e-3",
      user_id: "u-2",
      account_id: "a-1",
      activity: "export",
      module: "reports",
      occurred_at: "2024-01-06T12:00:00Z",
      count: 2,
    },
    {
      event_id: "e-4",
      user_id: null,
      account_id: "a-2",
      activity: "sync",
      module: "api",
      occurred_at: "2024-01-06T00:00:00Z",
      count: 1,
    },
  ];

  it("imports every column and rolls events up by UTC day, so 23:30 at -05:00 lands on the next day", async () => {
    const result = await runCli(t.database, ["import", "events", files.write("events.csv", goodCsv)]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^imported 4 events from .*events\.csv\n$/);
    expect(await events()).toEqual(expectedEvents);
    expect(await daily()).toEqual([
      {
        entity_type: "account",
        entity_id: "a-1",
        day: "2024-01-06",
        activity: "export",
        module: "reports",
        count: 2,
      },
      {
        entity_type: "account",
        entity_id: "a-1",
        day: "2024-01-06",
        activity: "login",
        module: "",
        count: 1,
      },
      {
        entity_type: "account",
        entity_id: "a-1",
        day: "2024-01-06",
        activity: "report, viewed",
        module: 'dash "beta"',
        count: 3,
      },
      {
        entity_type: "account",
        entity_id: "a-2",
        day: "2024-01-06",
        activity: "sync",
        module: "api",
        count: 1,
      },
      { entity_type: "user", entity_id: "u-1", day: "2024-01-06", activity: "login", module: "", count: 1 },
      {
        entity_type: "user",
        entity_id: "u-1",
        day: "2024-01-06",
        activity: "report, viewed",
        module: 'dash "beta"',
        count: 3,
      },
      {
        entity_type: "user",
        entity_id: "u-2",
        day: "2024-01-06",
        activity: "export",
        module: "reports",
        count: 2,
      },
    ]);
  });

  it("gives the same events and rollups from NDJSON as from CSV", async () => {
    await importEvents(t.database, files.write("events.csv", goodCsv), { timezone: "UTC" });
    const fromCsv = { events: await events(), daily: await daily() };
    await t.reset();
    await importAccounts(
      t.database,
      files.write("a.csv", csv(["id,provisioned_at", "a-1,2024-01-01", "a-2,2024-01-01"])),
    );
    await importUsers(
      t.database,
      files.write("u.csv", csv(["id,account_id,created_at", "u-1,a-1,2024-01-01", "u-2,a-1,2024-01-01"])),
    );
    const file = files.write(
      "events.ndjson",
      ndjson([
        {
          user_id: "u-1",
          account_id: "a-1",
          activity: "login",
          occurred_at: "2024-01-05T23:30:00-05:00",
          event_id: "e-1",
        },
        {
          user_id: "u-1",
          account_id: "a-1",
          activity: "report, viewed",
          module: 'dash "beta"',
          occurred_at: "2024-01-06T01:00:00Z",
          count: 3,
          event_id: "e-2",
        },
        {
          user_id: "u-2",
          activity: "export",
          module: "reports",
          occurred_at: "2024-01-06 12:00",
          count: "2",
          event_id: "e-3",
        },
        {
          account_id: "a-2",
          activity: "sync",
          module: "api",
          occurred_at: "2024-01-06",
          count: 1,
          event_id: "e-4",
        },
      ]),
    );
    const result = await runCli(t.database, ["import", "events", file]);
    expect(result.code).toBe(0);
    expect({ events: await events(), daily: await daily() }).toEqual(fromCsv);
  });

  it("buckets rollups by calendar day in SIGNALTAG_TIMEZONE", async () => {
    const file = files.write(
      "events.csv",
      csv([
        "user_id,activity,occurred_at",
        "u-1,login,2024-01-06T03:00:00Z",
        "u-1,login,2024-01-06T05:30:00Z",
        "u-1,login,2024-07-01T03:59:00Z",
      ]),
    );
    const result = await runCli(t.database, ["import", "events", file], {
      SIGNALTAG_TIMEZONE: "America/New_York",
    });
    expect(result.code).toBe(0);
    const userDays = (await daily()).filter((d) => d.entity_type === "user").map((d) => [d.day, d.count]);
    // 03:00Z is 22:00 the day before in New York (EST); 03:59Z in July is 23:59 EDT.
    expect(userDays).toEqual([
      ["2024-01-05", 1],
      ["2024-01-06", 1],
      ["2024-06-30", 1],
    ]);
    expect(await daily()).toEqual(await recount("America/New_York"));
  });

  it("refuses an events file that is not UTF-8, naming the line, on every path", async () => {
    const before = await snapshot(t.database.db);
    const bytes = Buffer.concat([
      Buffer.from(
        "user_id,account_id,activity,module,occurred_at\nu-1,a-1,export,reports,2024-01-06T04:30:00Z\n",
      ),
      Buffer.from("u-1,a-1,r\xe9sum\xe9,reports,2024-01-06T04:30:00Z\n", "latin1"),
    ]);
    const result = await runCli(t.database, ["import", "events", files.write("events.csv", bytes)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/events\.csv: line 3 is not valid UTF-8 text; nothing was imported/);
    expect(await snapshot(t.database.db)).toEqual(before);
  });

  it("ignores events whose event_id was already imported, without counting them twice in the rollups", async () => {
    await importEvents(t.database, files.write("events.csv", goodCsv), { timezone: "UTC" });
    const before = await snapshot(t.database.db);
    const again = await runCli(t.database, ["import", "events", files.write("events.csv", goodCsv)]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/imported 0 events from .* \(4 already imported\)/);
    expect(await snapshot(t.database.db)).toEqual(before);

    const overlapping = files.write(
      "more.csv",
      csv([
        "user_id,activity,occurred_at,event_id",
        "u-1,login,2024-01-05T23:30:00-05:00,e-1",
        "u-1,login,2024-01-06T09:00:00Z,e-5",
      ]),
    );
    const result = await importEvents(t.database, overlapping, { timezone: "UTC" });
    expect(result).toMatchObject({ imported: 1, duplicates: 1 });
    expect(result).toMatchObject({ path: "exact", fallback: { reason: leftDirect("columns") } });
    expect(await count(t.database.db, "activity_events")).toBe(5);
    expect(await daily()).toEqual(await recount("UTC"));
    expect((await daily()).find((d) => d.entity_id === "u-1" && d.activity === "login")?.count).toBe(2);
  });

  it("adds the events again when a file without event_id is imported twice", async () => {
    const file = files.write(
      "events.csv",
      csv([
        "user_id,activity,occurred_at,count",
        "u-1,login,2024-01-06T09:00:00Z,2",
        "u-3,login,2024-01-06T10:00:00Z,",
      ]),
    );
    for (let i = 0; i < 2; i++) {
      const result = await importEvents(t.database, file, { timezone: "UTC" });
      expect(result.path).toBe(testBackend() === "postgres" ? "direct" : "exact");
    }
    expect(await count(t.database.db, "activity_events")).toBe(4);
    const rollups = await daily();
    expect(rollups).toEqual(await recount("UTC"));
    expect(rollups.find((d) => d.entity_type === "account" && d.entity_id === "a-1")?.count).toBe(4);
    expect(rollups.find((d) => d.entity_type === "user" && d.entity_id === "u-3")?.count).toBe(2);
  });

  it("keeps the rollups equal to a recount from the raw events over several imports", async () => {
    const lines = ["user_id,account_id,activity,module,occurred_at,count"];
    const users = ["u-1", "u-2", "u-3", ""];
    for (let i = 0; i < 500; i++) {
      const user = users[i % 4]!;
      const account = user === "u-3" || user === "" ? "a-2" : i % 3 === 0 ? "" : "a-1";
      const hour = String(i % 24).padStart(2, "0");
      const day = String(1 + (i % 9)).padStart(2, "0");
      lines.push(
        `${user},${account},${["login", "view", "export"][i % 3]},${i % 5 === 0 ? "" : `m${i % 2}`},2024-02-${day}T${hour}:15:00+05:30,${1 + (i % 4)}`,
      );
    }
    await importEvents(t.database, files.write("bulk.csv", csv(lines)), { timezone: "Asia/Tokyo" });
    await importEvents(t.database, files.write("bulk.csv", csv(lines.slice(0, 200))), {
      timezone: "Asia/Tokyo",
    });
    expect(await count(t.database.db, "activity_events")).toBe(699);
    expect(await daily()).toEqual(await recount("Asia/Tokyo"));
  });

  it.each([
    [
      "an unknown user",
      "u-404,,login,2024-01-06T00:00:00Z,",
      /line 3: unknown user "u-404" \(import the user first\)/,
      "bad reference",
    ],
    [
      "an unknown account",
      ",a-404,login,2024-01-06T00:00:00Z,",
      /line 3: unknown account "a-404" \(import the account first\)/,
      "bad reference",
    ],
    [
      "a user of another account",
      "u-3,a-1,login,2024-01-06T00:00:00Z,",
      /line 3: user "u-3" belongs to account "a-2", not "a-1"/,
      "bad reference",
    ],
    [
      "neither user nor account",
      ",,login,2024-01-06T00:00:00Z,",
      /line 3: user_id and account_id are both empty/,
      "bad row",
    ],
    ["a missing activity", "u-1,,,2024-01-06T00:00:00Z,", /line 3: activity is empty/, "bad row"],
    [
      "a malformed timestamp",
      "u-1,,login,2024-01-06T00:00:00+25:00,",
      /line 3: occurred_at is not a valid date and time/,
      "bad row",
    ],
    [
      "a count that is not a whole number",
      "u-1,,login,2024-01-06T00:00:00Z,1.5",
      /line 3: count must be a whole number/,
      "bad row",
    ],
    [
      "a zero count",
      "u-1,,login,2024-01-06T00:00:00Z,0",
      /line 3: count must be a whole number from 1/,
      "bad row",
    ],
  ])("refuses a file with %s, naming the line, and changes nothing", async (_, badLine, message, reason) => {
    await importEvents(t.database, files.write("events.csv", goodCsv), { timezone: "UTC" });
    const before = await snapshot(t.database.db);
    const file = files.write(
      "bad.csv",
      csv(["user_id,account_id,activity,occurred_at,count", "u-1,,login,2024-01-07T00:00:00Z,", badLine]),
    );
    const result = await runCli(t.database, ["import", "events", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/refused, 1 of 2 rows is invalid; no events were imported/);
    expect(result.stderr).toMatch(message);
    expect(await snapshot(t.database.db)).toEqual(before);
    // The direct path gave the file up, and why (the exact path then refused it).
    const skipping = await importEvents(t.database, file, { timezone: "UTC", skipInvalid: true });
    expect(skipping).toMatchObject({ skipped: 1, path: "exact", fallback: { reason: leftDirect(reason) } });
  });

  it("prints the result as JSON with --json, with the path the import took and why it left the direct path", async () => {
    const plain = files.write(
      "events.csv",
      csv([
        "user_id,activity,occurred_at",
        "u-1,login,2024-01-06T09:00:00Z",
        "u-3,login,2024-01-06T10:00:00Z",
      ]),
    );
    const direct = await runCli(t.database, ["import", "events", plain, "--json"]);
    expect(direct.code).toBe(0);
    const parsed = JSON.parse(direct.stdout);
    expect(parsed).toMatchObject({ entity: "events", imported: 2, rows: 2 });
    if (testBackend() === "postgres") {
      expect(parsed.path).toBe("direct");
      expect(parsed).not.toHaveProperty("fallback");
    } else expect(parsed).toMatchObject({ path: "exact", fallback: { reason: "embedded database" } });

    const withIds = await runCli(t.database, [
      "import",
      "events",
      files.write("events.csv", goodCsv),
      "--json",
    ]);
    expect(withIds.code).toBe(0);
    expect(JSON.parse(withIds.stdout)).toMatchObject({
      imported: 4,
      path: "exact",
      fallback: { reason: leftDirect("columns"), detail: expect.any(String) },
    });
  });

  it("refuses a file that repeats an event_id", async () => {
    const file = files.write(
      "dup.csv",
      csv([
        "user_id,activity,occurred_at,event_id",
        "u-1,login,2024-01-06T00:00:00Z,e-1",
        "u-2,login,2024-01-06T00:00:00Z,e-1",
      ]),
    );
    const result = await runCli(t.database, ["import", "events", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/line 3: duplicate event_id "e-1" \(first on line 2\)/);
    expect(await count(t.database.db, "activity_events")).toBe(0);
  });

  it("refuses a file without an occurred_at column", async () => {
    const result = await runCli(t.database, [
      "import",
      "events",
      files.write("events.csv", csv(["user_id,activity,when", "u-1,login,2024-01-06"])),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/events\.csv line 1: missing required column occurred_at/);
  });

  it("imports exactly the valid events with --skip-invalid and rolls up only those", async () => {
    const file = files.write(
      "mixed.csv",
      csv([
        "user_id,account_id,activity,occurred_at,count",
        "u-1,,login,2024-01-06T00:00:00Z,1",
        "u-404,,login,2024-01-06T00:00:00Z,1",
        "u-3,a-1,login,2024-01-06T00:00:00Z,1",
        "u-3,,login,2024-01-06T00:00:00Z,5",
        "u-2,,login,tomorrow,1",
      ]),
    );
    const result = await runCli(t.database, ["import", "events", file, "--skip-invalid"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/imported 2 events from .* \(3 skipped\)/);
    expect(result.stderr).toMatch(/skipped 3 invalid rows/);
    expect(result.stderr).toMatch(/line 3: unknown user "u-404"/);
    expect(result.stderr).toMatch(/line 4: user "u-3" belongs to account "a-2", not "a-1"/);
    expect(result.stderr).toMatch(/line 6: occurred_at/);
    expect((await events()).map((e) => [e.user_id, e.account_id, e.count])).toEqual([
      ["u-1", "a-1", 1],
      ["u-3", "a-2", 5],
    ]);
    expect(await daily()).toEqual(await recount("UTC"));
  });

  it("reports the touched users and accounts, and notes columns it ignores", async () => {
    const file = files.write(
      "events.csv",
      csv([
        "user_id,account_id,activity,occurred_at,colour",
        "u-1,,login,2024-01-06T00:00:00Z,red",
        ",a-2,sync,2024-01-06T00:00:00Z,",
      ]),
    );
    const result = await importEvents(t.database, file, { timezone: "UTC" });
    expect(result.touched).toEqual({
      accounts: expect.arrayContaining(["a-1", "a-2"]),
      users: ["u-1"],
      complete: true,
    });
    expect(result.touched.accounts).toHaveLength(2);
    expect(result.ignoredColumns).toEqual(["colour"]);
    expect(result).toMatchObject({ path: "exact", fallback: { reason: leftDirect("columns") } });
    const cli = await runCli(t.database, ["import", "events", file]);
    expect(cli.stderr).toMatch(/note: .*events\.csv: ignored column colour/);
  });
});
