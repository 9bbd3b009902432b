import { beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser, powerUsersRule, rulesDir } from "../helpers/workspace.ts";

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe.skipIf(backendUnavailable())("the command line's conventions", () => {
  const t = useTestDatabase();
  const empty = rulesDir([]);
  const cli = (argv: string[], rules = empty) => runCli(t.database, argv, { SIGNALTAG_RULES_DIR: rules });

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
  });

  it("takes an entity type singular or plural in every command", async () => {
    expect((await cli(["tag", "add", "users", "u1", "vip"])).code).toBe(0);
    expect((await cli(["tag", "add", "account", "acc-1", "vip"])).code).toBe(0);
    expect((await cli(["tags", "members", "vip", "users"])).stdout).toBe("u1\n");
    expect((await cli(["tags", "members", "vip", "account"])).stdout).toBe("acc-1\n");
    expect((await cli(["segment", "user", "--tagged-with", "vip", "--count"])).stdout).toBe("1\n");
    expect((await cli(["segment", "Accounts", "--tagged-with", "vip", "--count"])).stdout).toBe("1\n");
    for (const argv of [
      ["profile", "users", "u1"],
      ["history", "users", "u1"],
      ["explain", "accounts", "acc-1"],
    ]) {
      const result = await cli(argv);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
    }
    expect((await cli(["tag", "remove", "users", "u1", "vip"])).code).toBe(0);
  });

  it("prints history and status instants to the millisecond in UTC", async () => {
    await cli(["tag", "add", "user", "u1", "vip"]);
    const [entry] = (await cli(["history", "user", "u1", "--json"])).stdout.trim().split("\n");
    expect(JSON.parse(entry!).at).toMatch(ISO_MS);
    const rules = rulesDir([powerUsersRule()]);
    expect((await cli(["run"], rules)).code).toBe(0);
    const status = JSON.parse((await cli(["status", "--json"], rules)).stdout);
    expect(status.rules[0].lastRun.at).toMatch(ISO_MS);
  });

  it("says so in a line when there is nothing to show", async () => {
    const noRules = await cli(["status"]);
    expect(noRules.stdout).toMatch(/^no rules in .* \(SIGNALTAG_RULES_DIR\)$/m);
    const nothingToRun = await cli(["run"]);
    expect(nothingToRun.code).toBe(0);
    expect(nothingToRun.stdout).toMatch(/^no enabled rules to run in /m);
    await cli(["tag", "add", "user", "u1", "vip"]);
    const nobody = await cli(["tags", "members", "vip", "accounts"]);
    expect(nobody.stdout).toBe("");
    expect(nobody.stderr).toBe('0 accounts have "vip"\n');
    await cli(["tag", "remove", "user", "u1", "vip"]);
    const noAssignments = await cli(["export", "assignments", "--format", "ndjson"]);
    expect(noAssignments.stdout).toBe("");
    expect(noAssignments.stderr).toBe("0 tag assignments\n");
  });
});
