import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser, countRows } from "../helpers/workspace.ts";

function tempFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-cli-"));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe.skipIf(backendUnavailable())("tagging from the command line", () => {
  const t = useTestDatabase();
  const cli = (...argv: string[]) => runCli(t.database, argv);
  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1", attributes: { plan: "pro" } });
    await addAccount(t.database, { id: "acc-2" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
    await addUser(t.database, { id: "u2", accountId: "acc-1" });
  });

  it("adds and removes a tag by hand, lists tags with counts and refuses renames", async () => {
    const added = await cli("tag", "add", "user", "u1", "Champion", "--actor", "alice");
    expect(added).toMatchObject({ code: 0 });
    expect(added.stdout).toContain('added "Champion" to user u1');
    expect(added.stdout).toContain("manual by alice since");
    expect((await cli("tag", "add", "account", "acc-1", "champion")).code).toBe(0);
    const list = await cli("tags", "list", "--json");
    expect(JSON.parse(list.stdout)).toEqual([{ name: "Champion", accounts: 1, users: 1 }]);
    const removed = await cli("tag", "remove", "user", "u1", "CHAMPION", "--json");
    expect(JSON.parse(removed.stdout)).toMatchObject({ changed: true, tags: [] });
    const unknown = await cli("tag", "add", "user", "nobody", "x");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no user with id "nobody"');
    const rename = await cli("tags", "rename", "champion", "hero");
    expect(rename.code).toBe(1);
    expect(rename.stderr).toContain("tags are permanent");
    expect((await cli("tags", "delete", "champion")).stderr).toContain("tags are permanent");
  });

  it("imports a tags file, with a dry run that writes nothing", async () => {
    const file = tempFile("tags.csv", "account_id,tag##vip,tag##beta\nacc-1,yes,no\nacc-2,,yes\n");
    const dry = await cli("import", "tags", file, "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("dry run");
    expect(dry.stdout).toContain('+ account acc-1 "vip" (file)');
    expect(await countRows(t.database, "claims")).toBe(0);
    const real = await cli("import", "tags", file, "--json");
    expect(real.code).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ addedCount: 2, removedCount: 0, dryRun: false });
    const bad = await cli(
      "import",
      "tags",
      tempFile("bad.csv", "account_id,tag##vip\nacc-1,yes\nghost,yes\n"),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('line 3: "ghost"');
    expect(await countRows(t.database, "claims")).toBe(2);
  });

  it("shows profiles and history", async () => {
    await cli("tag", "add", "account", "acc-1", "vip", "--actor", "alice");
    await cli("tag", "add", "user", "u2", "beta", "--actor", "alice");
    await cli("tag", "suppress", "user", "u2", "power users", "--reason", "asked", "--actor", "bob");
    const account = await cli("profile", "account", "acc-1");
    expect(account.code).toBe(0);
    expect(account.stdout).toContain("account acc-1 (Account acc-1)");
    expect(account.stdout).toContain('attributes: {"plan":"pro"}');
    expect(account.stdout).toContain("vip  [manual by alice since");
    expect(account.stdout).toContain("u2 <u2@example.com>  [beta]");
    const user = JSON.parse((await cli("profile", "user", "u2", "--json")).stdout);
    expect(user).toMatchObject({
      type: "user",
      id: "u2",
      account: { id: "acc-1", tags: ["vip"] },
      tags: [{ name: "beta", claims: [{ source: "manual", actor: "alice" }] }],
      suppressions: [{ tag: "power users", ruleId: null, createdBy: "bob", status: "active" }],
    });
    const history = await cli("history", "user", "u2");
    expect(history.stdout).toMatch(/power users {2}suppressed: no rule may claim the tag by bob \(asked\)/);
    expect(history.stdout).toMatch(/beta {2}gained the tag: added by hand by alice/);
    expect((await cli("profile", "user", "nope")).code).toBe(1);
  });

  it("counts, lists, exports and bulk-tags a segment", async () => {
    await cli("tag", "add", "user", "u1", "beta");
    expect((await cli("segment", "users", "--tagged-with", "beta", "--count")).stdout).toBe("1\n");
    expect((await cli("segment", "users", "--not-tagged", "beta", "--count")).stdout).toBe("1\n");
    const csv = await cli("segment", "users", "--not-tagged", "beta", "--format", "csv");
    expect(csv.stdout.split("\n")[1]).toMatch(/^u2,acc-1,u2@example.com,User u2,/);
    const bulk = await cli("segment", "users", "--not-tagged", "beta", "--add-tag", "beta", "--actor", "ops");
    expect(bulk.code).toBe(0);
    expect(bulk.stdout).toContain('added "beta" to 1 of 1 users');
    expect((await cli("segment", "users", "--tagged-with", "beta", "--count")).stdout).toBe("2\n");
    const badConditions = await cli(
      "segment",
      "users",
      "--conditions",
      '{"all":[{"fact":"activeDay","operator":"equal","value":1}]}',
    );
    expect(badConditions.code).toBe(1);
    expect(badConditions.stderr).toContain("/conditions/all/0/fact");
    expect((await cli("segment", "people")).code).toBe(1);
  });

  it("creates keys printed alone on stdout and stored as a hash, lists and revokes them", async () => {
    const created = await cli("keys", "create", "--name", "ops-bot", "--role", "editor");
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(created.stdout).toBe(`${key}\n`);
    expect(key).toMatch(/^stk_[A-Za-z0-9_-]{43}$/);
    const stored = await rows<{ key_hash: string }>(t.database.db, sql`select key_hash from api_keys`);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.key_hash).not.toContain(key);
    expect(JSON.stringify(await rows(t.database.db, sql`select * from api_keys`))).not.toContain(
      key.slice(12),
    );
    const dup = await cli("keys", "create", "--name", "ops-bot", "--role", "viewer");
    expect(dup.code).toBe(1);
    expect((await cli("keys", "create", "--name", "x", "--role", "root")).code).toBe(1);
    const list = JSON.parse((await cli("keys", "list", "--json")).stdout);
    expect(list).toMatchObject([
      { name: "ops-bot", role: "editor", revokedAt: null, prefix: key.slice(0, 12) },
    ]);
    expect((await cli("keys", "revoke", "ops-bot")).stdout).toContain("revoked key 1 (ops-bot, editor)");
    expect((await cli("keys", "revoke", "ops-bot")).code).toBe(1);
    expect((await cli("keys", "create", "--name", "ops-bot", "--role", "viewer")).code).toBe(0);
  });
});
