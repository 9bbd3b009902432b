import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { InputError } from "../../src/errors/index.ts";
import { importAccounts } from "../../src/imports/index.ts";
import { count, csv, ndjson, snapshot, useImportFiles } from "../fixtures/imports/files.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

interface AccountRow {
  id: string;
  name: string | null;
  provisioned_at: string;
  contract_status: string | null;
  renewal_date: string | null;
  health_score: number | null;
  health: string | null;
  attributes: Record<string, unknown>;
}

describe.skipIf(backendUnavailable())("import accounts", () => {
  const t = useTestDatabase();
  const files = useImportFiles();
  beforeEach(() => t.reset());

  async function accounts(): Promise<AccountRow[]> {
    const result = await rows<AccountRow & { attributes: string }>(
      t.database.db,
      sql`select id, name,
            to_char(provisioned_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as provisioned_at,
            contract_status, renewal_date::text as renewal_date, health_score, health,
            attributes::text as attributes
          from accounts order by id`,
    );
    return result.map((r) => ({
      ...r,
      health_score: r.health_score === null ? null : Number(r.health_score),
      attributes: JSON.parse(r.attributes),
    }));
  }

  const header = "id,name,provisioned_at,contract_status,renewal_date,health_score,health,plan,region";
  const goodCsv = csv([
    header,
    'a-1,"Acme, Inc.",2024-01-05T23:30:00-05:00,paying,2025-06-30,35,,pro,EU',
    'a-2,"The ""Best"" Co",2024-02-01T10:00:00Z,trial,,72.5,,,US',
    "a-3,Plain,2024-03-01,,,,average,free,",
    "a-4,Scored,2024-03-02 08:15:30.25,Churned,,55,,,",
  ]);

  const expected: AccountRow[] = [
    {
      id: "a-1",
      name: "Acme, Inc.",
      provisioned_at: "2024-01-06T04:30:00.000000Z",
      contract_status: "paying",
      renewal_date: "2025-06-30",
      health_score: 35,
      health: "poor",
      attributes: { plan: "pro", region: "EU" },
    },
    {
      id: "a-2",
      name: 'The "Best" Co',
      provisioned_at: "2024-02-01T10:00:00.000000Z",
      contract_status: "trial",
      renewal_date: null,
      health_score: 72.5,
      health: "good",
      attributes: { region: "US" },
    },
    {
      id: "a-3",
      name: "Plain",
      provisioned_at: "2024-03-01T00:00:00.000000Z",
      contract_status: null,
      renewal_date: null,
      health_score: null,
      health: "average",
      attributes: { plan: "free" },
    },
    {
      id: "a-4",
      name: "Scored",
      provisioned_at: "2024-03-02T08:15:30.250000Z",
      contract_status: "churned",
      renewal_date: null,
      health_score: 55,
      health: "average",
      attributes: {},
    },
  ];

  it("imports every column of a CSV file, with quoted names and extra columns as attributes", async () => {
    const result = await runCli(t.database, ["import", "accounts", files.write("accounts.csv", goodCsv)]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^imported 4 accounts from .*accounts\.csv \(4 new, 0 updated\)\n$/);
    expect(await accounts()).toEqual(expected);
  });

  it("reads a file with a byte order mark and CRLF line endings", async () => {
    const file = files.write("accounts.csv", `\ufeff${goodCsv.replaceAll("\n", "\r\n")}`);
    const result = await importAccounts(t.database, file);
    expect(result.imported).toBe(4);
    expect(await accounts()).toEqual(expected);
  });

  it("gives the same accounts from NDJSON as from CSV", async () => {
    const file = files.write(
      "accounts.ndjson",
      ndjson([
        {
          id: "a-1",
          name: "Acme, Inc.",
          provisioned_at: "2024-01-05T23:30:00-05:00",
          contract_status: "paying",
          renewal_date: "2025-06-30",
          health_score: 35,
          plan: "pro",
          region: "EU",
        },
        {
          id: "a-2",
          name: 'The "Best" Co',
          provisioned_at: "2024-02-01T10:00:00Z",
          contract_status: "trial",
          renewal_date: null,
          health_score: "72.5",
          region: "US",
        },
        {
          id: "a-3",
          name: "Plain",
          provisioned_at: "2024-03-01",
          health: "average",
          plan: "free",
          region: "",
        },
        {
          id: "a-4",
          name: "Scored",
          provisioned_at: "2024-03-02 08:15:30.25",
          contract_status: "Churned",
          health_score: 55,
        },
      ]),
    );
    const result = await runCli(t.database, ["import", "accounts", file]);
    expect(result.code).toBe(0);
    expect(await accounts()).toEqual(expected);
  });

  it("keeps an explicit health label even when a score is given", async () => {
    const file = files.write(
      "accounts.csv",
      csv([
        "id,provisioned_at,health_score,health",
        "a-1,2024-01-01,90,poor",
        "a-2,2024-01-01,40,",
        "a-3,2024-01-01,70,",
      ]),
    );
    await importAccounts(t.database, file);
    expect((await accounts()).map((a) => [a.id, a.health_score, a.health])).toEqual([
      ["a-1", 90, "poor"],
      ["a-2", 40, "average"],
      ["a-3", 70, "good"],
    ]);
  });

  it("updates existing accounts on re-import, only in the columns the file has", async () => {
    await importAccounts(t.database, files.write("accounts.csv", goodCsv));
    const update = files.write(
      "update.csv",
      csv([
        "ID,provisioned_at,health_score,plan,tier",
        "a-1,2024-01-01T00:00:00Z,80,,gold",
        "a-9,2024-05-01,10,basic,",
      ]),
    );
    const result = await runCli(t.database, ["import", "accounts", update]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/imported 2 accounts from .* \(1 new, 1 updated\)/);
    const [a1] = await accounts();
    expect(a1).toEqual({
      ...expected[0],
      provisioned_at: "2024-01-01T00:00:00.000000Z",
      health_score: 80,
      health: "good",
      // plan was blank: removed; region not in the file: kept; tier added.
      attributes: { region: "EU", tier: "gold" },
    });
    expect(await count(t.database.db, "accounts")).toBe(5);
  });

  it("refuses a file that is not UTF-8, naming the line, instead of storing replacement characters", async () => {
    await importAccounts(t.database, files.write("accounts.csv", goodCsv));
    const before = await snapshot(t.database.db);
    const latin1 = Buffer.concat([
      Buffer.from(`${header}\na-1,Plain,2024-01-05T00:00:00Z,,,,,,\n`),
      Buffer.from("a-2,Caf\xe9 Ltd,2024-01-05T00:00:00Z,,,,,,\n", "latin1"),
    ]);
    const file = files.write("accounts.csv", latin1);
    const result = await runCli(t.database, ["import", "accounts", file]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/accounts\.csv: line 3 is not valid UTF-8 text; nothing was imported/);
    expect(await snapshot(t.database.db)).toEqual(before);
  });

  it("refuses a file with a missing required column and changes nothing", async () => {
    await importAccounts(t.database, files.write("accounts.csv", goodCsv));
    const before = await snapshot(t.database.db);
    const file = files.write("accounts.csv", csv(["id,name", "a-1,Renamed"]));
    const result = await runCli(t.database, ["import", "accounts", file]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/accounts\.csv line 1: missing required column provisioned_at/);
    expect(await snapshot(t.database.db)).toEqual(before);
  });

  it.each([
    [
      "a malformed timestamp",
      "a-2,B,2024-13-01T00:00:00Z,,,,",
      /line 3: provisioned_at is not a valid date and time/,
    ],
    [
      "a timestamp in another format",
      "a-2,B,05/01/2024,,,,",
      /line 3: provisioned_at is not an ISO-8601 timestamp/,
    ],
    [
      "a malformed renewal date",
      "a-2,B,2024-01-01,,2024-02-30,,",
      /line 3: renewal_date is not a date in the form YYYY-MM-DD/,
    ],
    [
      "a score that is not a number",
      "a-2,B,2024-01-01,,,high,",
      /line 3: health_score is not a number: "high"/,
    ],
    [
      "a score out of range",
      "a-2,B,2024-01-01,,,101,",
      /line 3: health_score must be between 0 and 100, not 101/,
    ],
    [
      "an unknown contract status",
      "a-2,B,2024-01-01,lapsed,,,",
      /line 3: contract_status must be one of trial, paying, churned/,
    ],
    [
      "an unknown health label",
      "a-2,B,2024-01-01,,,,great",
      /line 3: health must be one of good, average, poor/,
    ],
    ["a missing id", ",B,2024-01-01,,,,", /line 3: id is empty/],
    ["a missing provisioned_at", "a-2,B,,,,,", /line 3: provisioned_at is empty/],
    ["a duplicate id", "a-1,Again,2024-01-01,,,,", /line 3: duplicate id "a-1" \(first on line 2\)/],
    ["a row of the wrong width", "a-2,B,2024-01-01", /line 3: the row has 3 fields but the header has 7/],
  ])("refuses a file with %s, naming the line, and changes nothing", async (_, badLine, message) => {
    await importAccounts(t.database, files.write("accounts.csv", goodCsv));
    const before = await snapshot(t.database.db);
    const file = files.write(
      "bad.csv",
      csv([
        "id,name,provisioned_at,contract_status,renewal_date,health_score,health",
        "a-1,Changed,2024-01-01,,,,",
        badLine,
        "a-5,Fine,2024-01-01,,,,",
      ]),
    );
    const result = await runCli(t.database, ["import", "accounts", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/refused, 1 of 3 rows is invalid; no accounts were imported/);
    expect(result.stderr).toMatch(/--skip-invalid/);
    expect(await snapshot(t.database.db)).toEqual(before);
  });

  it("imports exactly the valid rows with --skip-invalid and reports the others", async () => {
    const file = files.write(
      "mixed.csv",
      csv([
        "id,provisioned_at,health_score",
        "a-1,2024-01-01,10",
        "a-2,yesterday,10",
        "a-3,2024-01-01,10",
        "a-1,2024-01-02,20",
        "a-4,2024-01-01,200",
      ]),
    );
    const result = await runCli(t.database, ["import", "accounts", file, "--skip-invalid"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/imported 2 accounts from .* \(2 new, 0 updated, 3 skipped\)/);
    expect(result.stderr).toMatch(/skipped 3 invalid rows/);
    expect(result.stderr).toMatch(/line 3: provisioned_at/);
    expect(result.stderr).toMatch(/line 5: duplicate id "a-1" \(first on line 2\)/);
    expect(result.stderr).toMatch(/line 6: health_score must be between 0 and 100/);
    expect((await accounts()).map((a) => [a.id, a.provisioned_at])).toEqual([
      ["a-1", "2024-01-01T00:00:00.000000Z"],
      ["a-3", "2024-01-01T00:00:00.000000Z"],
    ]);
  });

  it("lists the first 20 offending lines and the total count", async () => {
    const lines = ["id,provisioned_at"];
    for (let i = 0; i < 30; i++) lines.push(`a-${i},not-a-date`);
    const file = files.write("many.csv", csv(lines));
    const err = await importAccounts(t.database, file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const message = (err as InputError).message;
    expect(message).toMatch(/30 of 30 rows are invalid/);
    expect(message.match(/^ {2}line \d+:/gm)).toHaveLength(20);
    expect(message).toMatch(/line 2: provisioned_at/);
    expect(message).toMatch(/line 21: provisioned_at/);
    expect(message).not.toMatch(/line 22:/);
    expect(message).toMatch(/\.\.\. and 10 more/);
    expect(await count(t.database.db, "accounts")).toBe(0);
  });

  it("counts physical lines when a quoted field spans lines", async () => {
    const file = files.write(
      "multiline.csv",
      csv(["id,name,provisioned_at", 'a-1,"Two\r\nlines",2024-01-01', "", "a-2,B,never"], "\r\n"),
    );
    const err = (await importAccounts(t.database, file).catch((e: unknown) => e)) as InputError;
    expect(err.message).toMatch(/line 5: provisioned_at/);
  });

  it("refuses an unsupported file type and a file that does not exist", async () => {
    const xlsx = await runCli(t.database, ["import", "accounts", files.write("accounts.xlsx", "x")]);
    expect(xlsx.code).toBe(1);
    expect(xlsx.stderr).toMatch(/unsupported file type "\.xlsx"; imports read \.csv or \.ndjson files/);
    const missing = await runCli(t.database, ["import", "accounts", "no-such-file.csv"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no-such-file\.csv: cannot read the file \(ENOENT\)/);
  });

  it("refuses malformed CSV quoting as a whole", async () => {
    const file = files.write("broken.csv", csv(["id,provisioned_at", 'a-1,"2024-01-01', "a-2,2024-01-01"]));
    const result = await runCli(t.database, ["import", "accounts", file, "--skip-invalid"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/broken\.csv.*: the file is not valid CSV/);
    expect(await snapshot(t.database.db)).toMatchObject({ accounts: "0:null", stagingTables: "0" });
  });

  it("reports NDJSON lines that are not objects by their line number", async () => {
    const file = files.write(
      "accounts.ndjson",
      `{"id":"a-1","provisioned_at":"2024-01-01"}\n\n[1,2]\n{"id":"a-2",\n{"id":{"x":1},"provisioned_at":"2024-01-01"}\n`,
    );
    const err = (await importAccounts(t.database, file).catch((e: unknown) => e)) as InputError;
    expect(err.message).toMatch(/line 3: the row is not a JSON object/);
    expect(err.message).toMatch(/line 4: the row is not valid JSON/);
    expect(err.message).toMatch(/line 5: id must be a plain value, not an object/);
  });

  it("returns the touched account ids", async () => {
    const result = await importAccounts(t.database, files.write("accounts.csv", goodCsv));
    expect(result.touched.accounts.sort()).toEqual(["a-1", "a-2", "a-3", "a-4"]);
    expect(result.touched.complete).toBe(true);
    const capped = await importAccounts(t.database, files.write("accounts.csv", goodCsv), {
      touchedLimit: 2,
    });
    expect(capped.touched.accounts).toHaveLength(2);
    expect(capped.touched.complete).toBe(false);
  });
});
