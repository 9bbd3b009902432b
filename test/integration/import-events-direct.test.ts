import fs from "node:fs";
import { Readable } from "node:stream";
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { InputError } from "../../src/errors/index.ts";
import { type ImportFallback, type ImportResult, importEvents } from "../../src/imports/index.ts";
import { sweepStaging } from "../../src/imports/run.ts";
import { csv, importEventOwners, snapshot, useImportFiles } from "../fixtures/imports/files.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";

/*
 * A plain events CSV file (no event_id, no quotes) is loaded on Postgres by
 * the direct path (COPY into activity_events); a stream always takes the exact
 * path. Both must store the same events and rollups, and a file the direct
 * path cannot settle must come out exactly as the exact path has it.
 */
describe.skipIf(backendUnavailable())("import events from a plain CSV file", () => {
  const t = useTestDatabase();
  const files = useImportFiles();
  async function freshEntities(): Promise<void> {
    await t.reset();
    await importEventOwners(t.database, files);
  }
  beforeEach(freshEntities);

  /** A plain file's import took the direct path on a Postgres server (PGlite has none), left as `fallback` says. */
  function expectDirect(result: ImportResult, fallback?: ImportFallback): void {
    if (testBackend() !== "postgres") {
      expect(result).toMatchObject({ path: "exact", fallback: { reason: "embedded database" } });
      return;
    }
    expect(result.path).toBe("direct");
    expect(result.fallback).toEqual(fallback);
  }

  /** The import took the exact path, having left the direct path as `fallback` says (on PGlite: it has none). */
  function expectExact(result: ImportResult, fallback: Partial<ImportFallback>): void {
    expect(result.path).toBe("exact");
    if (testBackend() !== "postgres") expect(result.fallback?.reason).toBe("embedded database");
    else expect(result.fallback).toMatchObject(fallback);
  }

  /** Events and rollups as text, without the generated id and ingestion time. */
  async function stored(): Promise<{ events: string[]; daily: string[] }> {
    const events = await rows<{ r: string }>(
      t.database.db,
      sql`select concat_ws('|', coalesce(user_id, '-'), account_id, activity, coalesce(module, '-'),
                 to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), count) as r
          from activity_events order by 1`,
    );
    const daily = await rows<{ r: string }>(
      t.database.db,
      sql`select concat_ws('|', entity_type, entity_id, day, activity, module, count) as r
          from activity_daily order by 1`,
    );
    return { events: events.map((e) => e.r), daily: daily.map((d) => d.r) };
  }

  async function viaStream(text: string) {
    return importEvents(
      t.database,
      { stream: Readable.from([Buffer.from(text)]), format: "csv", name: "events.csv" },
      { timezone: "Europe/Paris" },
    );
  }

  // Plain rows, rows the byte checks hand to the exact converter (padding,
  // a bare date, a timestamp without offset, a non-ASCII value, "+2" and
  // "007" counts), a blank line, an empty account taken from the user,
  // columns in another order and case, CRLF line ends.
  const mixed = csv(
    [
      "Activity,occurred_at,USER_ID,account_id,module,count",
      "login,2024-03-30T23:30:00Z,u-1,a-1,,",
      "export,2024-03-31T00:30:00+02:00,u-2,,reports,3",
      "sync,2024-03-31T10:00:00.123456-05:00,,a-2,api,1",
      "",
      " view ,2024-03-31,u-3,a-2, dash ,+2",
      "café,2024-03-31 08:15,u-1,a-1,modulé,007",
      "login,2024-03-31T23:59:59Z,u-3,,,",
    ],
    "\r\n",
  );

  it("stores the same events and rollups as the exact path, for plain and unusual rows alike", async () => {
    const direct = await importEvents(t.database, files.write("events.csv", mixed), {
      timezone: "Europe/Paris",
    });
    const fromFile = await stored();
    expect(direct).toMatchObject({ rows: 6, imported: 6, inserted: 6, problemCount: 0 });
    expectDirect(direct);
    expect(direct.touched).toEqual({
      accounts: expect.arrayContaining(["a-1", "a-2"]),
      users: expect.arrayContaining(["u-1", "u-2", "u-3"]),
      complete: true,
    });
    expect(fromFile.events).toContain("u-2|a-1|export|reports|2024-03-30T22:30:00.000000|3");
    expect(fromFile.events).toContain("u-3|a-2|view|dash|2024-03-31T00:00:00.000000|2");
    expect(fromFile.events).toContain("u-1|a-1|café|modulé|2024-03-31T08:15:00.000000|7");

    await freshEntities();
    const exact = await viaStream(mixed);
    expect(exact).toMatchObject({ rows: 6, imported: 6 });
    expectExact(exact, { reason: "not a csv file", detail: "a stream, not a file" });
    expect(await stored()).toEqual(fromFile);
  });

  /** A deterministic plain events file: users with and without account_id, accounts alone, around DST changes. */
  function randomEvents(rows: number, seed: number, fraction: (i: number) => string): string {
    let s = seed;
    const next = () => {
      s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
      return s / 4_294_967_296;
    };
    const pick = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)]!;
    const users: [string, string][] = [
      ["u-1", "a-1"],
      ["u-2", "a-1"],
      ["u-3", "a-2"],
    ];
    // Around the spring and autumn changes of 2024 in Europe and the autumn one in North America.
    const starts = [Date.UTC(2024, 2, 30), Date.UTC(2024, 9, 26), Date.UTC(2024, 10, 2)];
    const lines = ["user_id,account_id,activity,module,occurred_at,count"];
    for (let i = 0; i < rows; i++) {
      const [user, account] = pick(users);
      const who = next() < 0.1 ? ["", pick(["a-1", "a-2"])] : next() < 0.2 ? [user, ""] : [user, account];
      const at = pick(starts) + Math.floor(next() * 3 * 86_400) * 1000;
      const [offset, minutes] = pick([
        ["Z", 0],
        ["+05:30", 330],
        ["-03:30", -210],
        ["+14:00", 840],
        ["-11:00", -660],
      ] as const);
      const local = new Date(at + minutes * 60_000).toISOString().slice(0, 19);
      const stamp = `${local}${fraction(i)}${offset}`;
      const count = next() < 0.5 ? "" : String(1 + Math.floor(next() * 5));
      lines.push(
        `${who[0]},${who[1]},${pick(["login", "export", "view"])},${pick(["", "reports", "api"])},${stamp},${count}`,
      );
    }
    return csv(lines);
  }

  it.each(["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kolkata", "Pacific/Kiritimati"])(
    "sums the rollups of a plain file in %s as the exact path does",
    async (timezone) => {
      // Fractions of up to nine digits: Postgres rounds those past six to microseconds.
      const text = randomEvents(3000, timezone.length, (i) =>
        i % 3 === 0
          ? `.${String(i).padStart(6, "0")}`
          : i % 3 === 1
            ? `.${String((i * 7919) % 1_000_000_000).padStart(7 + (i % 3), "0")}`
            : "",
      );
      const direct = await importEvents(t.database, files.write("events.csv", text), { timezone });
      // St. John's changes its clocks half past a UTC hour: the days are left to Postgres.
      expectDirect(
        direct,
        timezone === "America/St_Johns"
          ? { reason: "timezone", detail: "the time zone's offset changes within an hour" }
          : undefined,
      );
      const fromFile = await stored();
      await freshEntities();
      await importEvents(
        t.database,
        { stream: Readable.from([Buffer.from(text)]), format: "csv", name: "events.csv" },
        { timezone },
      );
      expect(await stored()).toEqual(fromFile);
    },
  );

  it("rolls up a timestamp finer than a microsecond on the day Postgres rounds it to", async () => {
    const text = csv([
      "user_id,account_id,activity,module,occurred_at,count",
      "u-1,a-1,login,,2024-03-30T23:59:59.9999996Z,",
      "u-1,a-1,login,,2024-03-30T10:00:00Z,",
    ]);
    const direct = await importEvents(t.database, files.write("events.csv", text), { timezone: "UTC" });
    expectDirect(direct);
    const fromFile = await stored();
    expect(fromFile.daily).toContain("user|u-1|2024-03-31|login||1");
    await freshEntities();
    await importEvents(
      t.database,
      { stream: Readable.from([Buffer.from(text)]), format: "csv", name: "events.csv" },
      { timezone: "UTC" },
    );
    expect(await stored()).toEqual(fromFile);
  });

  it("adds to existing rollups and keeps them equal to a recount after a second import", async () => {
    const file = files.write(
      "events.csv",
      csv([
        "user_id,account_id,activity,module,occurred_at,count",
        "u-1,a-1,login,,2024-03-30T10:00:00Z,",
        "u-2,a-1,login,,2024-03-30T11:00:00Z,2",
      ]),
    );
    for (let i = 0; i < 2; i++) {
      expectDirect(await importEvents(t.database, file, { timezone: "UTC" }));
    }
    const { daily } = await stored();
    expect(daily).toEqual([
      "account|a-1|2024-03-30|login||6",
      "user|u-1|2024-03-30|login||2",
      "user|u-2|2024-03-30|login||4",
    ]);
  });

  it("loads the rollups of new days as they are and merges days that have rollups, equal to a recount", async () => {
    const header = "user_id,account_id,activity,module,occurred_at,count";
    const recountDiffers = async () => {
      const [found] = await rows<{ n: number }>(
        t.database.db,
        sql`with recount as (
              select entity_type, entity_id, day, activity, module, sum(count)::bigint as count from (
                select 'account' as entity_type, account_id as entity_id, (occurred_at at time zone 'UTC')::date as day,
                       activity, coalesce(module, '') as module, count from activity_events
                union all
                select 'user', user_id, (occurred_at at time zone 'UTC')::date, activity, coalesce(module, ''), count
                from activity_events where user_id is not null) c
              group by 1, 2, 3, 4, 5),
            stored as (select entity_type, entity_id, day, activity, module, count from activity_daily)
            select count(*)::int as n from ((select * from recount except all select * from stored)
              union all (select * from stored except all select * from recount)) d`,
      );
      return Number(found?.n);
    };
    // A first day, then a later day (no rollups on it yet), then both days
    // again and one before them: the last file's keys partly exist already.
    const days = [
      ["u-1,a-1,login,,2024-03-30T10:00:00Z,", "u-2,a-1,export,reports,2024-03-30T11:00:00Z,2"],
      ["u-1,a-1,login,,2024-03-31T10:00:00Z,", ",a-2,sync,api,2024-03-31T12:00:00Z,4"],
      [
        "u-1,a-1,login,,2024-03-31T18:00:00Z,",
        "u-2,a-1,export,reports,2024-03-30T19:00:00Z,",
        "u-3,a-2,view,,2024-03-29T08:00:00Z,3",
      ],
    ];
    for (const lines of days) {
      const result = await importEvents(t.database, files.write("events.csv", csv([header, ...lines])), {
        timezone: "UTC",
      });
      expect(result.imported).toBe(lines.length);
      expectDirect(result);
      expect(await recountDiffers()).toBe(0);
    }
    const { daily } = await stored();
    expect(daily).toContain("user|u-1|2024-03-31|login||2");
    expect(daily).toContain("account|a-1|2024-03-30|export|reports|3");
    expect(daily).toContain("account|a-2|2024-03-31|sync|api|4");
    expect(daily).toContain("user|u-3|2024-03-29|view||3");
  });

  it("gives events that leave account_id empty their user's account, as the exact path does", async () => {
    // The first row names no account, so the users' accounts are read before the rows stream.
    const text = csv([
      "user_id,account_id,activity,module,occurred_at,count",
      "u-3,,login,,2024-03-30T10:00:00Z,",
      "u-1,,export,reports,2024-03-30T11:00:00Z,2",
      "u-1,a-1,login,,2024-03-30T12:00:00Z,",
      ",a-2,sync,api,2024-03-31T12:00:00Z,4",
      "u-2,,login,,2024-03-31T08:00:00Z,",
    ]);
    const direct = await importEvents(t.database, files.write("events.csv", text), { timezone: "UTC" });
    expect(direct).toMatchObject({ imported: 5, problemCount: 0 });
    expectDirect(direct);
    const fromFile = await stored();
    expect(fromFile.events).toContain("u-3|a-2|login|-|2024-03-30T10:00:00.000000|1");
    expect(fromFile.events).toContain("u-2|a-1|login|-|2024-03-31T08:00:00.000000|1");
    expect(fromFile.daily).toContain("account|a-1|2024-03-30|export|reports|2");
    expect(fromFile.daily).toContain("account|a-2|2024-03-30|login||1");
    await freshEntities();
    await viaStream(text);
    const exact = await stored();
    expect(exact).toEqual(fromFile);

    // An unknown user among such rows: refused with its line, nothing stored.
    await freshEntities();
    await expect(
      importEvents(t.database, files.write("events.csv", `${text}u-9,,login,,2024-03-31T09:00:00Z,\n`), {
        timezone: "UTC",
      }),
    ).rejects.toThrow(/line 7: unknown user "u-9"/);
    expect(await stored()).toEqual({ events: [], daily: [] });
    // The direct path gave the file up on its references (the exact path then refused it).
    const skipping = await importEvents(
      t.database,
      files.write("events.csv", `${text}u-9,,login,,2024-03-31T09:00:00Z,\n`),
      { timezone: "UTC", skipInvalid: true },
    );
    expect(skipping.skipped).toBe(1);
    expectExact(skipping, { reason: "bad reference" });
  });

  it("refuses a plain file with an unknown user, names its line and changes nothing", async () => {
    const before = await snapshot(t.database.db);
    const file = files.write(
      "events.csv",
      csv([
        "user_id,account_id,activity,module,occurred_at,count",
        "u-1,a-1,login,,2024-03-30T10:00:00Z,",
        "u-9,,login,,2024-03-30T11:00:00Z,",
        "u-2,a-2,login,,2024-03-30T12:00:00Z,",
      ]),
    );
    const error = await importEvents(t.database, file, { timezone: "UTC" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toContain('line 3: unknown user "u-9"');
    expect((error as InputError).message).toContain('line 4: user "u-2" belongs to account "a-1", not "a-2"');
    expect(await snapshot(t.database.db)).toEqual(before);
    const skipping = await importEvents(t.database, file, { timezone: "UTC", skipInvalid: true });
    expectExact(skipping, {
      reason: "bad reference",
      detail: "a row refers to an unknown or other user or account",
    });
  });

  it("refuses a plain file with a bad value late in it and changes nothing", async () => {
    const before = await snapshot(t.database.db);
    const lines = ["user_id,account_id,activity,module,occurred_at,count"];
    for (let i = 0; i < 5000; i++) lines.push(`u-1,a-1,login,,2024-03-30T10:00:00Z,`);
    lines.push("u-1,a-1,login,,2024-02-30T10:00:00Z,");
    const file = files.write("events.csv", csv(lines));
    await expect(importEvents(t.database, file, { timezone: "UTC" })).rejects.toThrow(
      /line 5002: occurred_at is not a valid date and time/,
    );
    expect(await snapshot(t.database.db)).toEqual(before);
    const skipping = await importEvents(t.database, file, { timezone: "UTC", skipInvalid: true });
    expect(skipping.skipped).toBe(1);
    expectExact(skipping, {
      reason: "bad row",
      detail: expect.stringMatching(/^occurred_at is not a valid date/),
    });
  });

  it("imports the valid rows of a plain file with skipInvalid", async () => {
    const file = files.write(
      "events.csv",
      csv([
        "user_id,account_id,activity,module,occurred_at,count",
        "u-1,a-1,login,,2024-03-30T10:00:00Z,",
        "u-9,a-1,login,,2024-03-30T11:00:00Z,",
      ]),
    );
    const result = await importEvents(t.database, file, { timezone: "UTC", skipInvalid: true });
    expect(result).toMatchObject({ imported: 1, skipped: 1, problems: [{ line: 3 }] });
    expectExact(result, { reason: "bad reference" });
    expect((await stored()).daily).toEqual([
      "account|a-1|2024-03-30|login||1",
      "user|u-1|2024-03-30|login||1",
    ]);
  });

  it("leaves a file with a quoted field to the exact path and says so", async () => {
    const file = files.write(
      "events.csv",
      csv([
        "user_id,account_id,activity,module,occurred_at,count",
        "u-1,a-1,login,,2024-03-30T10:00:00Z,",
        'u-2,a-1,"report, viewed",,2024-03-30T11:00:00Z,',
      ]),
    );
    const result = await importEvents(t.database, file, { timezone: "UTC" });
    expect(result.imported).toBe(2);
    expectExact(result, { reason: "quoted field" });
    expect((await stored()).events).toContain("u-2|a-1|report, viewed|-|2024-03-30T11:00:00.000000|1");
  });

  it("leaves no staging table behind and drops ones a killed import left", async () => {
    await t.database.db.execute(sql`create table signaltag_import_0123456789abcdef (line integer)`);
    const file = files.write(
      "events.csv",
      csv(["user_id,account_id,activity,occurred_at,event_id", "u-1,a-1,login,2024-03-30T10:00:00Z,e-1"]),
    );
    expect(fs.existsSync(file)).toBe(true);
    const withIds = await importEvents(t.database, file, { timezone: "UTC" });
    expectExact(withIds, { reason: "columns", detail: "the direct path does not load column event_id" });
    await expect(
      importEvents(
        t.database,
        files.write("bad.csv", csv(["user_id,activity,occurred_at", "u-9,login,2024-03-30T10:00:00Z"])),
        { timezone: "UTC" },
      ),
    ).rejects.toThrow(/unknown user/);
    const [left] = await rows<{ n: number }>(
      t.database.db,
      sql`select count(*)::int as n from pg_class where relname like 'signaltag\\_import\\_%'`,
    );
    expect(left?.n).toBe(0);
    expect(await sweepStaging(t.database.db)).toBe(0);
  });
});
