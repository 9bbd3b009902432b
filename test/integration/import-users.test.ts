import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { importAccounts, importUsers } from "../../src/imports/index.ts";
import { count, csv, ndjson, snapshot, useImportFiles } from "../fixtures/imports/files.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

interface UserRow {
  id: string;
  account_id: string;
  email: string | null;
  name: string | null;
  created_at: string;
  attributes: Record<string, unknown>;
}

describe.skipIf(backendUnavailable())("import users", () => {
  const t = useTestDatabase();
  const files = useImportFiles();
  beforeEach(async () => {
    await t.reset();
    await importAccounts(
      t.database,
      files.write("accounts.csv", csv(["id,provisioned_at", "a-1,2024-01-01", "a-2,2024-01-01"])),
    );
  });

  async function users(): Promise<UserRow[]> {
    const result = await rows<UserRow & { attributes: string }>(
      t.database.db,
      sql`select id, account_id, email, name,
            to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as created_at,
            attributes::text as attributes
          from users order by id`,
    );
    return result.map((r) => ({ ...r, attributes: JSON.parse(r.attributes) }));
  }

  const goodCsv = csv([
    "id,account_id,email,name,created_at,role,seats",
    'u-1,a-1,ann@example.com,"Doe, Ann",2024-01-05T23:30:00-05:00,admin,3',
    'u-2,a-1,,"Bob ""B"" Smith",2024-02-01T10:00:00+01:00,,',
    "u-3,a-2,cy@example.com,Cy,2024-03-01,viewer,",
  ]);
  const expected: UserRow[] = [
    {
      id: "u-1",
      account_id: "a-1",
      email: "ann@example.com",
      name: "Doe, Ann",
      created_at: "2024-01-06T04:30:00Z",
      attributes: { role: "admin", seats: "3" },
    },
    {
      id: "u-2",
      account_id: "a-1",
      email: null,
      name: 'Bob "B" Smith',
      created_at: "2024-02-01T09:00:00Z",
      attributes: {},
    },
    {
      id: "u-3",
      account_id: "a-2",
      email: "cy@example.com",
      name: "Cy",
      created_at: "2024-03-01T00:00:00Z",
      attributes: { role: "viewer" },
    },
  ];

  it("imports every column of a CSV file, with extra columns as attributes", async () => {
    const result = await runCli(t.database, ["import", "users", files.write("users.csv", goodCsv)]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^imported 3 users from .*users\.csv \(3 new, 0 updated\)\n$/);
    expect(await users()).toEqual(expected);
  });

  it("gives the same users from NDJSON as from CSV", async () => {
    const file = files.write(
      "users.ndjson",
      ndjson([
        {
          id: "u-1",
          account_id: "a-1",
          email: "ann@example.com",
          name: "Doe, Ann",
          created_at: "2024-01-05T23:30:00-05:00",
          role: "admin",
          seats: "3",
        },
        {
          id: "u-2",
          account_id: "a-1",
          email: null,
          name: 'Bob "B" Smith',
          created_at: "2024-02-01T10:00:00+01:00",
        },
        {
          id: "u-3",
          account_id: "a-2",
          email: "cy@example.com",
          name: "Cy",
          created_at: "2024-03-01",
          role: "viewer",
        },
      ]),
    );
    const result = await runCli(t.database, ["import", "users", file]);
    expect(result.code).toBe(0);
    expect(await users()).toEqual(expected);
  });

  it("updates existing users on re-import and can move a user to another account", async () => {
    await importUsers(t.database, files.write("users.csv", goodCsv));
    const result = await importUsers(
      t.database,
      files.write("move.csv", csv(["id,account_id,created_at,name", "u-1,a-2,2024-01-01,Ann Doe"])),
    );
    expect(result).toMatchObject({ inserted: 0, updated: 1, imported: 1 });
    expect(result.touched.users).toEqual(["u-1"]);
    expect(result.touched.accounts.sort()).toEqual(["a-1", "a-2"]);
    const [u1] = await users();
    expect(u1).toEqual({
      ...expected[0],
      account_id: "a-2",
      name: "Ann Doe",
      created_at: "2024-01-01T00:00:00Z",
    });
    expect(await count(t.database.db, "users")).toBe(3);
  });

  it("refuses a user whose account does not exist and changes nothing", async () => {
    await importUsers(t.database, files.write("users.csv", goodCsv));
    const before = await snapshot(t.database.db);
    const file = files.write(
      "users.csv",
      csv(["id,account_id,created_at", "u-1,a-1,2024-01-01", "u-9,a-404,2024-01-01", "u-10,a-2,2024-01-01"]),
    );
    const result = await runCli(t.database, ["import", "users", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/refused, 1 of 3 rows is invalid; no users were imported/);
    expect(result.stderr).toMatch(/line 3: unknown account "a-404" \(import the account first\)/);
    expect(await snapshot(t.database.db)).toEqual(before);
  });

  it("refuses duplicate ids, missing values and bad timestamps with their line numbers", async () => {
    const file = files.write(
      "users.csv",
      csv([
        "id,account_id,created_at",
        "u-1,a-1,2024-01-01",
        "u-1,a-1,2024-01-02",
        "u-2,,2024-01-01",
        "u-3,a-1,2024-01-01T25:00:00Z",
        "u-4,a-1,",
      ]),
    );
    const result = await runCli(t.database, ["import", "users", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/line 3: duplicate id "u-1" \(first on line 2\)/);
    expect(result.stderr).toMatch(/line 4: account_id is empty/);
    expect(result.stderr).toMatch(/line 5: created_at is not a valid date and time/);
    expect(result.stderr).toMatch(/line 6: created_at is empty/);
    expect(await count(t.database.db, "users")).toBe(0);
  });

  it("refuses a users file without an account_id column", async () => {
    const result = await runCli(t.database, [
      "import",
      "users",
      files.write("users.csv", csv(["id,created_at", "u-1,2024-01-01"])),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/line 1: missing required column account_id/);
  });

  it("imports exactly the valid users with --skip-invalid", async () => {
    const file = files.write(
      "users.csv",
      csv([
        "id,account_id,created_at",
        "u-1,a-1,2024-01-01",
        "u-2,a-404,2024-01-01",
        "u-3,a-2,bad",
        "u-4,a-2,2024-01-01",
      ]),
    );
    const result = await runCli(t.database, ["import", "users", file, "--skip-invalid"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/imported 2 users from .* \(2 new, 0 updated, 2 skipped\)/);
    expect(result.stderr).toMatch(/line 3: unknown account "a-404"/);
    expect(result.stderr).toMatch(/line 4: created_at/);
    expect((await users()).map((u) => u.id)).toEqual(["u-1", "u-4"]);
  });
});
