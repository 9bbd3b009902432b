import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";

const rulesDir = fileURLToPath(new URL("../../rules", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/rules/${name}`, import.meta.url));
/** Rules commands never open the database. */
const noDatabase = undefined as never;

describe("signaltag rules validate", () => {
  it("says how many rules are valid and exits 0", async () => {
    const result = await runCli(noDatabase, ["rules", "validate", rulesDir]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^5 rules valid in .*rules\/?\n$/);
  });

  it("reads SIGNALTAG_RULES_DIR when no directory is given", async () => {
    const result = await runCli(noDatabase, ["rules", "validate"], { SIGNALTAG_RULES_DIR: fixture("cycle") });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("advocate -> champion -> advocate");
  });

  it("prints every problem on its own line with a count and exits 1", async () => {
    const result = await runCli(noDatabase, ["rules", "validate", fixture("invalid")]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    const relative = path.relative(process.cwd(), fixture("invalid"));
    expect(lines[0]).toBe(
      `${path.join(relative, "broken.json")}:4:3: invalid JSON: missing "," before this key`,
    );
    expect(lines[1]).toContain(
      `${path.join(relative, "typos.json")}:/conditions/all/0/fact: unknown fact "activeDay"`,
    );
    expect(lines[1]).toContain('(did you mean "activeDays"?)');
    expect(lines[3]).toMatch(/^3 problems in /);
  });

  it("exits 1 for a directory that does not exist", async () => {
    const result = await runCli(noDatabase, ["rules", "validate", fixture("no-such-dir")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/does not exist/);
  });
});

describe("signaltag rules list", () => {
  it("lists id, target, tag, enabled, schedule and version", async () => {
    const result = await runCli(noDatabase, ["rules", "list", rulesDir]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0].split(/\s{2,}/)).toEqual(["id", "target", "tag", "enabled", "schedule", "version"]);
    expect(lines).toHaveLength(7);
    expect(lines.find((l) => l.startsWith("power-users"))).toMatch(
      /^power-users\s+user\s+power users\s+true\s+0 \* \* \* \* UTC\s+[0-9a-f]{16}$/,
    );
  });

  it("prints one JSON object per rule with --json", async () => {
    const result = await runCli(noDatabase, ["rules", "list", rulesDir, "--json"]);
    const rows = result.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.id)).toEqual([
      "inactive-user",
      "new-account",
      "new-user",
      "power-users",
      "renewal-risk",
    ]);
    expect(rows[0]).toMatchObject({ target: "user", tag: "inactive user", enabled: true });
  });
});
