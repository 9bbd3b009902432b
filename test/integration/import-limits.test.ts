import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import {
  MAX_ACTIVITY_BYTES,
  MAX_ATTRIBUTE_DEPTH,
  MAX_ATTRIBUTES_BYTES,
  MAX_EMAIL_BYTES,
  MAX_ID_BYTES,
  MAX_NAME_BYTES,
} from "../../src/limits.ts";
import { csv, importEventOwners, ndjson, snapshot, useImportFiles } from "../fixtures/imports/files.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

/*
 * Values past the limits of src/limits.ts are refused with the file's line
 * and the limit, before Postgres sees them (it would refuse a 5 MB index key
 * with SQL and no line, after staging the whole file), and without a stack
 * overflow for an attribute nested 10,000 deep.
 */
const huge = "x".repeat(5_000_000);
const deep = (levels: number): unknown => JSON.parse("[".repeat(levels) + "]".repeat(levels));

describe.skipIf(backendUnavailable())("import size limits", () => {
  const t = useTestDatabase();
  const files = useImportFiles();
  beforeEach(async () => {
    await t.reset();
    await importEventOwners(t.database, files);
  });

  /** Imports `content` as `entity` through the CLI and expects a refusal naming `line` and `message`, nothing changed. */
  async function expectRefused(entity: string, name: string, content: string, line: number, message: RegExp) {
    const before = await snapshot(t.database.db);
    const result = await runCli(t.database, ["import", entity, files.write(name, content)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(new RegExp(`line ${line}: ${message.source}`));
    expect(result.stderr).not.toMatch(/unexpected error|Failed query|index row|insert into|select /i);
    expect(result.stderr.length).toBeLessThan(2_000);
    expect(await snapshot(t.database.db)).toEqual(before);
  }

  const idLimit = new RegExp(`id is 5000000 bytes long; at most ${MAX_ID_BYTES} bytes are allowed`);

  it("refuses a 5 MB account id in CSV and NDJSON with its line and the limit", async () => {
    await expectRefused(
      "accounts",
      "accounts.csv",
      csv(["id,provisioned_at", "a-9,2024-01-01", `${huge},2024-01-01`]),
      3,
      idLimit,
    );
    await expectRefused(
      "accounts",
      "accounts.ndjson",
      ndjson([{ id: huge, provisioned_at: "2024-01-01" }]),
      1,
      idLimit,
    );
  });

  it("refuses a 5 MB user id, account_id, name or email with its line and the limit", async () => {
    await expectRefused(
      "users",
      "users.csv",
      csv(["id,account_id,created_at", `${huge},a-1,2024-01-01`]),
      2,
      idLimit,
    );
    await expectRefused(
      "users",
      "users.ndjson",
      ndjson([
        { id: "u-8", account_id: "a-1", created_at: "2024-01-01" },
        { id: "u-9", account_id: huge, created_at: "2024-01-01" },
      ]),
      2,
      /account_id is 5000000 bytes long/,
    );
    await expectRefused(
      "users",
      "users.csv",
      csv(["id,account_id,created_at,name", `u-9,a-1,2024-01-01,${"n".repeat(MAX_NAME_BYTES + 1)}`]),
      2,
      new RegExp(`name is ${MAX_NAME_BYTES + 1} bytes long; at most ${MAX_NAME_BYTES} bytes`),
    );
    // Counted in bytes: 161 two-byte characters are 322 bytes.
    await expectRefused(
      "users",
      "users.ndjson",
      ndjson([{ id: "u-9", account_id: "a-1", created_at: "2024-01-01", email: `${"é".repeat(161)}@x` }]),
      1,
      new RegExp(`email is 324 bytes long; at most ${MAX_EMAIL_BYTES} bytes`),
    );
  });

  it("refuses a 5 MB activity on the events direct path and on the exact path, CSV and NDJSON", async () => {
    const activityLimit = new RegExp(
      `activity is 5000000 bytes long; at most ${MAX_ACTIVITY_BYTES} bytes are allowed`,
    );
    // A plain CSV: the direct path on Postgres, which leaves it to the exact path to name the line.
    await expectRefused(
      "events",
      "events.csv",
      csv([
        "user_id,account_id,activity,occurred_at",
        "u-1,a-1,login,2024-03-01T10:00:00Z",
        `u-1,a-1,${huge},2024-03-01T10:00:00Z`,
      ]),
      3,
      activityLimit,
    );
    await expectRefused(
      "events",
      "events.ndjson",
      ndjson([{ user_id: "u-1", activity: huge, occurred_at: "2024-03-01T10:00:00Z" }]),
      1,
      activityLimit,
    );
    await expectRefused(
      "events",
      "events.csv",
      csv(["user_id,activity,module,occurred_at", `u-1,login,${huge},2024-03-01T10:00:00Z`]),
      2,
      /module is 5000000 bytes long/,
    );
    await expectRefused(
      "events",
      "events.ndjson",
      ndjson([{ user_id: "u-1", activity: "login", occurred_at: "2024-03-01T10:00:00Z", event_id: huge }]),
      1,
      /event_id is 5000000 bytes long/,
    );
  });

  it("refuses an NDJSON attribute nested 10,000 deep with its line, not a stack overflow", async () => {
    const content = `${JSON.stringify({ id: "a-8", provisioned_at: "2024-01-01" })}\n${JSON.stringify({
      id: "a-9",
      provisioned_at: "2024-01-01",
      plan: "x",
    }).replace('"x"', "[".repeat(10_000) + "]".repeat(10_000))}\n`;
    await expectRefused(
      "accounts",
      "accounts.ndjson",
      content,
      2,
      new RegExp(`attribute "plan" nests objects or arrays more than ${MAX_ATTRIBUTE_DEPTH} deep`),
    );
  });

  it("refuses half a surrogate pair in NDJSON with its line and field, and keeps whole pairs", async () => {
    const line = (fields: string) => `{"id":"a-9","provisioned_at":"2024-01-01",${fields}}\n`;
    // An attribute value: jsonb refuses it, so the COPY failed naming no line.
    await expectRefused(
      "accounts",
      "accounts.ndjson",
      line('"plan":{"tier":"gold\\ud800"}'),
      1,
      /the row has an unpaired UTF-16 surrogate .* in plan\.tier/,
    );
    // A name: text would have held U+FFFD in its place.
    await expectRefused(
      "accounts",
      "accounts.ndjson",
      line('"name":"\\udc00x"'),
      1,
      /the row has an unpaired UTF-16 surrogate .* in name/,
    );
    const ok = await runCli(t.database, [
      "import",
      "accounts",
      files.write("accounts.ndjson", line('"name":"rocket \\ud83d\\ude80"')),
    ]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const [row] = await rows<{ name: string }>(
      t.database.db,
      sql`select name from accounts where id = 'a-9'`,
    );
    expect(row?.name).toBe("rocket \u{1F680}");
  });

  it("stores attributes nested to the limit and refuses one level more", async () => {
    const ok = await runCli(t.database, [
      "import",
      "accounts",
      files.write(
        "accounts.ndjson",
        ndjson([{ id: "a-9", provisioned_at: "2024-01-01", plan: deep(MAX_ATTRIBUTE_DEPTH) }]),
      ),
    ]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    await expectRefused(
      "accounts",
      "accounts.ndjson",
      ndjson([{ id: "a-9", provisioned_at: "2024-01-01", plan: deep(MAX_ATTRIBUTE_DEPTH + 1) }]),
      1,
      /attribute "plan" nests/,
    );
  });

  it("refuses attributes larger in all than the limit, and an attribute name too long, in CSV and NDJSON", async () => {
    const half = "v".repeat(MAX_ATTRIBUTES_BYTES / 2);
    await expectRefused(
      "accounts",
      "accounts.csv",
      csv(["id,provisioned_at,plan,notes", `a-9,2024-01-01,${half},${half}`]),
      2,
      new RegExp(`the attributes are \\d+ bytes as JSON; at most ${MAX_ATTRIBUTES_BYTES} bytes`),
    );
    await expectRefused(
      "users",
      "users.ndjson",
      ndjson([{ id: "u-9", account_id: "a-1", created_at: "2024-01-01", ["k".repeat(300)]: "v" }]),
      1,
      /attribute name "k+\.\.\." is 300 bytes long/,
    );
  });
});
