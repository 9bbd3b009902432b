import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { MAX_ID_BYTES } from "../../src/limits.ts";
import { useImportFiles } from "../fixtures/imports/files.ts";
import { type Role, useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser } from "../helpers/workspace.ts";

/*
 * An id longer than any stored one (limits.ts) in a bulk request or a tags
 * file is refused naming where it is, not passed to the id table, whose index
 * refused it with a 500.
 */
const huge = "y".repeat(1_000_000);
const limit = new RegExp(`is 1000000 bytes long; at most ${MAX_ID_BYTES} bytes are allowed`);

describe.skipIf(backendUnavailable())("ids past the size limit in bulk tagging and tags files", () => {
  const t = useTestDatabase();
  const api = useApi(t);
  const files = useImportFiles();
  let keys: Record<Role, string>;
  const claimCount = async () =>
    Number((await rows<{ n: number }>(t.database.db, sql`select count(*)::int as n from claims`))[0]?.n);

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "a1" });
    await addUser(t.database, { id: "u1", accountId: "a1" });
    keys = await api.createKeys();
  });

  it("refuses a 1 MB id in a bulk request with a 400 naming it, and changes nothing", async () => {
    const res = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/tags/bulk",
      payload: { action: "add", entityType: "user", tag: "vip", ids: ["u1", huge] },
    });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(400);
    expect(res.json().error).toMatchObject({ field: "ids/1" });
    expect(res.json().error.message).toMatch(limit);
    expect(await claimCount()).toBe(0);
  });

  it("refuses a 1 MB id in a tags file, API and CLI, naming its line, and changes nothing", async () => {
    const file = `user_id,tag##vip\nu1,yes\n${huge},yes\n`;
    const res = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/imports/tags",
      payload: file,
      headers: { "content-type": "text/csv" },
    });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(400);
    expect(res.json().error.message).toMatch(new RegExp(`line 3, column "user_id": user_id ${limit.source}`));
    expect(res.body.length).toBeLessThan(2_000);
    const cli = await runCli(t.database, ["import", "tags", files.write("tags.csv", file)]);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(new RegExp(`line 3, column "user_id": user_id ${limit.source}`));
    expect(cli.stderr).not.toMatch(/unexpected error|index row/);
    expect(await claimCount()).toBe(0);
  });

  it("answers a command naming an id past the limit without quoting it back whole", async () => {
    const id = "q".repeat(100_000);
    for (const argv of [
      ["tag", "add", "user", id, "vip"],
      ["profile", "user", id],
      ["history", "user", id],
      ["explain", "user", id],
    ]) {
      const result = await runCli(t.database, argv);
      expect(result.code, argv[0]).not.toBe(0);
      expect(result.stderr).toContain(
        `no user has this id: it is 100000 bytes long; at most ${MAX_ID_BYTES}`,
      );
      expect(result.stderr.length).toBeLessThan(500);
    }
  });
});
