import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { countRows } from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("signaltag demo", () => {
  const t = useTestDatabase();

  it("seeds an empty workspace, runs the standard rules and explains a tag of each", async () => {
    const first = await runCli(t.database, ["demo"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/seeded a synthetic workspace: 40 accounts, 400 users/);
    for (const rule of ["new-user", "power-users", "inactive-user", "new-account", "renewal-risk"]) {
      expect(first.stdout).toMatch(new RegExp(`^${rule}\\s.*applied`, "m"));
    }
    expect(first.stdout).toMatch(
      /has "power users" \(rule power-users\):\n\s+all( ✓)?\n\s+✓ activeDays\{"days":30\} = \d+/,
    );
    expect(first.stdout).toMatch(
      /at least 20 active days in the last 30 days: yes, active on \d+ of the last 30 days/,
    );
    expect(await countRows(t.database, "claims")).toBeGreaterThan(0);
  });

  it("reuses the workspace on a second run and changes nothing", async () => {
    const claims = await countRows(t.database, "claims");
    const events = await countRows(t.database, "tag_events");
    const again = await runCli(t.database, ["demo"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already holds 40 accounts/);
    expect(await countRows(t.database, "claims")).toBe(claims);
    expect(await countRows(t.database, "tag_events")).toBe(events);
  });
});
