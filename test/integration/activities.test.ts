import { beforeEach, describe, expect, it } from "vitest";
import { createContext } from "../../src/cli/context.ts";
import { main } from "../../src/cli/main.ts";
import { loadConfig } from "../../src/config.ts";
import { useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addActivity, addUser, rulesDir } from "../helpers/workspace.ts";

function exportsRule(activity: string, module?: string) {
  return {
    id: "exporters",
    name: "Exporters",
    tag: "exporter",
    target: "user",
    enabled: true,
    conditions: {
      all: [
        {
          fact: "eventCount",
          params: { days: 30, activity, ...(module ? { module } : {}) },
          operator: "greaterThan",
          value: 0,
        },
      ],
    },
  };
}

describe.skipIf(backendUnavailable())("the data's vocabulary", () => {
  const t = useTestDatabase();
  const api = useApi(t);

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
    await addActivity(t.database, {
      userId: "u1",
      accountId: "acc-1",
      days: ["2026-02-01", "2026-02-03"],
      activity: "report.exported_csv",
      module: "reports",
    });
    await addActivity(t.database, {
      userId: null,
      accountId: "acc-1",
      days: ["2026-02-02"],
      activity: "report.viewed",
      module: "reports",
    });
    await addActivity(t.database, {
      userId: "u1",
      accountId: "acc-1",
      days: ["2026-01-15"],
      activity: "login",
    });
  });

  it("lists the activity and module names seen with event counts and last seen day", async () => {
    const json = await runCli(t.database, ["activities", "--json"]);
    expect(json.code).toBe(0);
    // A user's event counts once, though it rolls up for its user and its account.
    expect(JSON.parse(json.stdout)).toEqual({
      activities: [
        { name: "report.exported_csv", events: 2, lastSeen: "2026-02-03" },
        { name: "login", events: 1, lastSeen: "2026-01-15" },
        { name: "report.viewed", events: 1, lastSeen: "2026-02-02" },
      ],
      modules: [{ name: "reports", events: 3, lastSeen: "2026-02-03" }],
    });
    const text = await runCli(t.database, ["activities"]);
    expect(text.stdout).toContain("3 activities");
    expect(text.stdout).toMatch(/report\.exported_csv\s+2\s+2026-02-03/);
    expect(text.stdout).toMatch(/reports\s+3\s+2026-02-03/);
    await t.reset();
    expect((await runCli(t.database, ["activities"])).stdout).toContain("0 activities");
  });

  it("validates a rule naming an unseen activity with a warning listing the nearest seen names", async () => {
    const dir = rulesDir([exportsRule("report.exported", "report")]);
    // A database is configured: the embedded one's directory exists.
    const result = await runCli(t.database, ["rules", "validate", dir], { SIGNALTAG_DATA_DIR: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("1 rule valid");
    const warnings = result.stderr.trim().split("\n");
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain(
      'exporters.json:/conditions/all/0/params/activity: warning: activity "report.exported" was never seen in the data',
    );
    expect(warnings[0]).toContain('nearest seen: "report.exported_csv", "report.viewed", "login"');
    expect(warnings[1]).toContain('module "report" was never seen in the data');
    expect(warnings[1]).toContain('nearest seen: "reports"');
    const seen = await runCli(t.database, ["rules", "validate", rulesDir([exportsRule("login")])], {
      SIGNALTAG_DATA_DIR: dir,
    });
    expect(seen).toMatchObject({ code: 0, stderr: "" });
  });

  it("validates without the data when no database is configured or it does not answer", async () => {
    const dir = rulesDir([exportsRule("report.exported")]);
    const none = await runCli(t.database, ["rules", "validate", dir], {
      SIGNALTAG_DATA_DIR: `${dir}/absent`,
    });
    expect(none).toMatchObject({ code: 0, stderr: "" });
    // A configured database that does not answer (a closed port): the command opens it itself.
    let stdout = "";
    let stderr = "";
    const ctx = createContext({
      config: loadConfig({ DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" }),
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    });
    expect(await main(["rules", "validate", dir], ctx)).toBe(0);
    expect(stdout).toContain("1 rule valid");
    expect(stderr).toMatch(/^note: the rules were not checked against the data \(.+\)\n$/);
  });

  it("serves the vocabulary to viewers", async () => {
    const keys = await api.createKeys();
    const res = await api.call(keys.viewer, { method: "GET", url: "/v1/activities" });
    expect(res.statusCode).toBe(200);
    expect(res.json().activities[0]).toEqual({
      name: "report.exported_csv",
      events: 2,
      lastSeen: "2026-02-03",
    });
    expect((await api.call(undefined, { method: "GET", url: "/v1/activities" })).statusCode).toBe(401);
  });
});
