import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { expandExplanations } from "../../src/tags/sql/history.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import {
  addAccount,
  addActivity,
  addManualClaim,
  addUser,
  claimsOf,
  countRows,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const asOf = "2026-03-31T12:00:00Z";
const today = "2026-03-31";

describe.skipIf(backendUnavailable())("rule runs reconcile claims", () => {
  const t = useTestDatabase();
  const run = (dir: string, ...args: string[]) =>
    runCli(t.database, ["run", "--as-of", asOf, "--json", ...args], { SIGNALTAG_RULES_DIR: dir });
  const parse = (stdout: string) =>
    stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
  });

  async function powerUsers(n: number, activeDays: number) {
    for (let i = 1; i <= n; i++) {
      const id = `u${String(i).padStart(2, "0")}`;
      await addUser(t.database, { id, accountId: "acc-1" });
      await addActivity(t.database, { userId: id, accountId: "acc-1", days: lastDays(today, activeDays) });
    }
  }

  it("tags everyone who already matches when a rule first runs", async () => {
    await powerUsers(3, 20);
    await addUser(t.database, { id: "idle", accountId: "acc-1" });
    await addActivity(t.database, { userId: "idle", accountId: "acc-1", days: lastDays(today, 19) });
    const result = await run(rulesDir([powerUsersRule()]));
    expect(result.code).toBe(0);
    const [summary] = parse(result.stdout);
    expect(summary).toMatchObject({
      rule: "power-users",
      status: "applied",
      matched: 3,
      added: 3,
      removed: 0,
    });
    expect((await claimsOf(t.database, "power users")).map((c) => c.entity_id)).toEqual([
      "u01",
      "u02",
      "u03",
    ]);
    const events = await rows<{
      rule_id: string;
      rule_version: string;
      as_of: Date;
      explanation: Record<string, unknown> | null;
    }>(t.database.db, sql`select rule_id, rule_version, as_of, explanation from tag_events order by id`);
    expect(events).toHaveLength(3);
    expect(events[0]?.rule_id).toBe("power-users");
    expect(events[0]?.rule_version).toMatch(/^[0-9a-f]{8,}$/);
    // Stored compact: each leaf's fact value and outcome.
    expect(events[0]?.explanation).toEqual({
      matched: true,
      suppressed: false,
      facts: [20],
      results: [true],
    });
    // Read whole against the rule version.
    await expandExplanations(t.database.db, events);
    expect(events[0]?.explanation).toEqual({
      rule: "power-users",
      version: events[0]?.rule_version,
      asOf: "2026-03-31T12:00:00.000Z",
      matched: true,
      suppressed: false,
      conditions: {
        all: [
          {
            fact: "activeDays",
            params: { days: 30 },
            operator: "greaterThanInclusive",
            value: 20,
            factValue: 20,
            result: true,
          },
        ],
        result: true,
      },
    });
  });

  it("changes nothing and writes no events when run again", async () => {
    await powerUsers(2, 25);
    const dir = rulesDir([powerUsersRule()]);
    await run(dir);
    const events = await countRows(t.database, "tag_events");
    const claims = await countRows(t.database, "claims");
    const [second] = parse((await run(dir)).stdout);
    expect(second).toMatchObject({ status: "applied", matched: 2, added: 0, removed: 0 });
    expect(await countRows(t.database, "tag_events")).toBe(events);
    expect(await countRows(t.database, "claims")).toBe(claims);
  });

  it("keeps a manual tag through rule runs and removes only its own claims when the rule stops matching", async () => {
    await powerUsers(1, 20);
    await addManualClaim(t.database, "user", "u01", "power users");
    const dir = rulesDir([powerUsersRule()]);
    await run(dir);
    expect(await claimsOf(t.database, "power users")).toEqual([
      { entity_id: "u01", source: "manual" },
      { entity_id: "u01", source: "rule:power-users" },
    ]);
    // Eleven days later the oldest active day has left the window: 19 of 30.
    const later = await runCli(t.database, ["run", "--as-of", "2026-04-11T12:00:00Z", "--json"], {
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(parse(later.stdout)[0]).toMatchObject({ status: "applied", removed: 1 });
    expect(await claimsOf(t.database, "power users")).toEqual([{ entity_id: "u01", source: "manual" }]);
    const [removal] = await rows<{ action: string; membership_changed: boolean }>(
      t.database.db,
      sql`select action, membership_changed from tag_events where action = 'removed'`,
    );
    expect(removal).toEqual({ action: "removed", membership_changed: false });
  });

  it("leaves entities created after the as-of instant untagged", async () => {
    await addUser(t.database, { id: "early", accountId: "acc-1", createdAt: "2026-03-20T00:00:00Z" });
    await addUser(t.database, { id: "late", accountId: "acc-1", createdAt: "2026-04-02T00:00:00Z" });
    const dir = rulesDir([
      {
        id: "new-user",
        name: "New user",
        tag: "new user",
        target: "user",
        conditions: { all: [{ fact: "daysSinceCreated", operator: "lessThan", value: 30 }] },
      },
    ]);
    const [summary] = parse((await run(dir)).stdout);
    expect(summary).toMatchObject({ evaluated: 1, matched: 1, added: 1 });
    expect((await claimsOf(t.database, "new user")).map((c) => c.entity_id)).toEqual(["early"]);
  });

  it("ends two concurrent runs of one rule in the same state and history as one", async () => {
    await powerUsers(6, 22);
    const dir = rulesDir([powerUsersRule()]);
    const [a, b] = await Promise.all([run(dir), run(dir)]);
    const results = [...parse(a.stdout), ...parse(b.stdout)];
    expect(results.map((r) => r.added).sort()).toEqual([0, 6]);
    expect(await countRows(t.database, "claims")).toBe(6);
    expect(await countRows(t.database, "tag_events")).toBe(6);
    const [dupes] = await rows<{ n: number }>(
      t.database.db,
      sql`select count(*)::int as n from (select entity_id from tag_events group by entity_id, action having count(*) > 1) d`,
    );
    expect(dupes?.n).toBe(0);
  });

  it("keeps a tag between the thresholds with exit conditions", async () => {
    const rule = powerUsersRule({
      exitConditions: {
        all: [{ fact: "activeDays", params: { days: 30 }, operator: "lessThan", value: 10 }],
      },
    });
    const dir = rulesDir([rule]);
    await powerUsers(1, 20);
    await run(dir);
    expect(await claimsOf(t.database, "power users")).toHaveLength(1);
    // On 2026-04-15 the window holds 15 active days: below entry, above exit.
    const mid = await runCli(t.database, ["run", "--as-of", "2026-04-15T12:00:00Z", "--json"], {
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(parse(mid.stdout)[0]).toMatchObject({ matched: 1, removed: 0 });
    // On 2026-04-22 eight remain: the exit conditions match.
    const low = await runCli(t.database, ["run", "--as-of", "2026-04-22T12:00:00Z", "--json"], {
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(parse(low.stdout)[0]).toMatchObject({ matched: 0, removed: 1 });
  });

  it("lets a rule that tests tags see tags from the same run", async () => {
    await powerUsers(2, 21);
    const dependent = {
      id: "champions",
      name: "Champions",
      tag: "champion",
      target: "user",
      conditions: { all: [{ fact: "tags", operator: "contains", value: "power users" }] },
    };
    // The dependent rule sorts first by id; the run must still order it after its producer.
    const result = await run(rulesDir([dependent, powerUsersRule()]));
    const out = parse(result.stdout);
    expect(out.map((r) => r.rule)).toEqual(["power-users", "champions"]);
    expect((await claimsOf(t.database, "champion")).map((c) => c.entity_id)).toEqual(["u01", "u02"]);
  });

  it("holds a run that would remove 60 % of a rule's claims and applies it with --force", async () => {
    await powerUsers(10, 20);
    const dir = rulesDir([powerUsersRule()]);
    await run(dir);
    expect(await countRows(t.database, "claims")).toBe(10);
    // Six users lose a day of activity and drop below the threshold.
    await t.database.db.execute(sql`
      delete from activity_events where user_id in ('u01','u02','u03','u04','u05','u06')
        and occurred_at = '2026-03-31T12:00:00Z'`);
    const { rebuildRollups } = await import("../../src/imports/rollups.ts");
    await rebuildRollups(t.database.db, "UTC");
    const eventsBefore = await countRows(t.database, "tag_events");
    const heldRun = await run(dir);
    // A held run exits with its own code, so a script can tell it from success and failure.
    expect(heldRun.code).toBe(3);
    const held = parse(heldRun.stdout)[0];
    expect(held).toMatchObject({ status: "held", removed: 6, added: 0 });
    expect(await countRows(t.database, "claims")).toBe(10);
    expect(await countRows(t.database, "tag_events")).toBe(eventsBefore);
    const [recorded] = await rows<{ status: string }>(
      t.database.db,
      sql`select status from rule_runs order by id desc limit 1`,
    );
    expect(recorded?.status).toBe("held");
    const forcedRun = await run(dir, "--force");
    expect(forcedRun.code).toBe(0);
    const forced = parse(forcedRun.stdout)[0];
    expect(forced).toMatchObject({ status: "applied", removed: 6 });
    expect(await countRows(t.database, "claims")).toBe(4);
  });

  it("refuses to run anything while a rule file has a typo, naming the file and pointer", async () => {
    await powerUsers(2, 20);
    const dir = rulesDir([
      powerUsersRule(),
      {
        id: "inactive-user",
        name: "Inactive",
        tag: "inactive user",
        target: "user",
        conditions: { all: [{ fact: "activeDay", params: { days: 30 }, operator: "equal", value: 0 }] },
      },
    ]);
    const result = await run(dir);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("inactive-user.json");
    expect(result.stderr).toContain("/conditions/all/0/fact");
    expect(result.stderr).toContain("activeDays");
    expect(await countRows(t.database, "rule_runs")).toBe(0);
    expect(await countRows(t.database, "claims")).toBe(0);
  });

  it("writes nothing on a dry run and shows sample explanations", async () => {
    await powerUsers(2, 20);
    const dir = rulesDir([powerUsersRule()]);
    const result = await runCli(t.database, ["run", "--as-of", asOf, "--dry-run"], {
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("dry-run");
    expect(result.stdout).toContain("would add");
    expect(result.stdout).toMatch(/activeDays\{"days":30\} = 20/);
    expect(await countRows(t.database, "claims")).toBe(0);
    expect(await countRows(t.database, "rule_runs")).toBe(0);
  });

  it("explains an entity's rules and claims, and exports assignments", async () => {
    await powerUsers(1, 20);
    await addManualClaim(t.database, "user", "u01", 'vip, "gold"');
    const dir = rulesDir([powerUsersRule()]);
    await run(dir);
    const explained = await runCli(t.database, ["explain", "user", "u01", "--as-of", asOf], {
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain("rule power-users");
    expect(explained.stdout).toContain("matched");
    expect(explained.stdout).toMatch(/rule:power-users since \d{4}-/);
    const csv = await runCli(t.database, ["export", "assignments"]);
    expect(csv.stdout).toBe(
      'entity_type,entity_id,tag,sources\nuser,u01,power users,rule:power-users\nuser,u01,"vip, ""gold""",manual\n',
    );
    const ndjson = await runCli(t.database, ["export", "assignments", "--format", "ndjson"]);
    expect(
      ndjson.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { entity_type: "user", entity_id: "u01", tag: "power users", sources: ["rule:power-users"] },
      { entity_type: "user", entity_id: "u01", tag: 'vip, "gold"', sources: ["manual"] },
    ]);
    const missing = await runCli(t.database, ["explain", "user", "nobody"], { SIGNALTAG_RULES_DIR: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no user with id");
  });

  it("respects a suppression until it is lifted or its date passes", async () => {
    await powerUsers(2, 20);
    await t.database.db.execute(sql`insert into tags (name) values ('power users')`);
    await t.database.db.execute(sql`
      insert into suppressions (tag_id, entity_type, entity_id, rule_id, until, created_by)
      select id, 'user', 'u01', 'power-users', '2026-04-05T00:00:00Z'::timestamptz, 'test' from tags`);
    const dir = rulesDir([powerUsersRule()]);
    const [first] = parse((await run(dir)).stdout);
    expect(first).toMatchObject({ matched: 1, added: 1 });
    expect((await claimsOf(t.database, "power users")).map((c) => c.entity_id)).toEqual(["u02"]);
    // After the suppression's date the rule claims the tag again (u01 still has 20 active days on 04-01).
    await addActivity(t.database, { userId: "u01", accountId: "acc-1", days: lastDays("2026-04-06", 6) });
    const later = await runCli(t.database, ["run", "--as-of", "2026-04-06T12:00:00Z", "--json"], {
      SIGNALTAG_RULES_DIR: dir,
    });
    expect(parse(later.stdout)[0]).toMatchObject({ added: 1 });
    expect((await claimsOf(t.database, "power users")).map((c) => c.entity_id)).toContain("u01");
  });

  it("re-evaluates only the given entities when scoped", async () => {
    await powerUsers(3, 20);
    const { reconcileEntities } = await import("../../src/runs/runner.ts");
    const { loadValidRules } = await import("../../src/runs/runner.ts");
    const rules = await loadValidRules(rulesDir([powerUsersRule()]));
    const results = await reconcileEntities(t.database.db, rules, "user", ["u02"], {
      asOf: new Date(asOf),
      timezone: "UTC",
      trigger: "event",
      removalGuard: 0.5,
    });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ status: "applied", evaluated: 1, added: 1 });
    expect((await claimsOf(t.database, "power users")).map((c) => c.entity_id)).toEqual(["u02"]);
  });
});
