import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addManualClaim, addUser, claimsOf, countRows, rulesDir } from "../helpers/workspace.ts";

const AS_OF = "2026-03-01T12:00:00Z";

/** Every user created before the as-of instant: the rule claims its tag on all of them. */
function everyoneRule(id: string, tag: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: id,
    tag,
    target: "user",
    enabled: true,
    conditions: { all: [{ fact: "daysSinceCreated", operator: "greaterThanInclusive", value: 0 }] },
    ...extra,
  };
}

function writeRule(dir: string, rule: Record<string, unknown>): void {
  fs.writeFileSync(path.join(dir, `${String(rule.id)}.json`), JSON.stringify(rule));
}

interface EventRow {
  entity_id: string;
  action: string;
  source: string;
  membership_changed: boolean;
  rule_id: string | null;
  run_id: number | null;
  reason: string | null;
}

describe.skipIf(backendUnavailable())("retiring a rule", () => {
  const t = useTestDatabase();
  let dir: string;
  const cli = (...argv: string[]) => runCli(t.database, argv, { SIGNALTAG_RULES_DIR: dir });
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([]) } });

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    for (let i = 1; i <= 8; i++) await addUser(t.database, { id: `u${i}`, accountId: "acc-1" });
    dir = rulesDir([everyoneRule("veterans", "veteran"), everyoneRule("members", "member")]);
    expect((await cli("run", "--as-of", AS_OF)).code).toBe(0);
    // Another source's claim on the retiring rule's tag.
    await addManualClaim(t.database, "user", "u1", "veteran");
  });

  const retirementEvents = () =>
    rows<EventRow>(
      t.database.db,
      sql`select e.entity_id, e.action, e.source, e.membership_changed, e.rule_id, e.run_id::int as run_id,
                 e.explanation->>'reason' as reason
          from tag_events e join tags t on t.id = e.tag_id
          where lower(t.name) = 'veteran' and e.action = 'removed' order by e.entity_id`,
    );

  it("warns in status, run and validate when a disabled rule still holds claims", async () => {
    expect((await cli("status")).stderr).not.toContain("rules retire");
    writeRule(dir, everyoneRule("veterans", "veteran", { enabled: false }));
    const status = await cli("status");
    expect(status.code).toBe(0);
    const warnings = status.stderr.split("\n").filter((l) => l.startsWith("warning:"));
    expect(warnings).toEqual([
      'warning: rule veterans is disabled but still holds 8 claims on "veteran"; run `signaltag rules retire veterans` to remove them',
    ]);
    expect((await cli("run", "--as-of", AS_OF)).stderr).toContain("signaltag rules retire veterans");
    const validate = await runCli(t.database, ["rules", "validate", dir], {
      SIGNALTAG_RULES_DIR: dir,
      SIGNALTAG_DATA_DIR: dir,
    });
    expect(validate.code).toBe(0);
    expect(validate.stderr).toContain("signaltag rules retire veterans");
    // A deleted file says so.
    fs.rmSync(path.join(dir, "veterans.json"));
    expect((await cli("status")).stderr).toContain("rule veterans has no rule file but still holds 8 claims");
  });

  it("refuses to retire a rule whose file is still enabled", async () => {
    const refused = await cli("rules", "retire", "veterans");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("rule veterans is enabled in");
    expect(refused.stderr).toContain('set "enabled": false');
    expect(await claimsOf(t.database, "veteran")).toHaveLength(9);
    const unknown = await cli("rules", "retire", "veteranz");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(
      'no rule "veteranz" has a file or ever ran here (did you mean veterans?)',
    );
  });

  it("removes exactly the rule's claims with history, after a dry run and the guard", async () => {
    writeRule(dir, everyoneRule("veterans", "veteran", { enabled: false }));
    const eventsBefore = await countRows(t.database, "tag_events");
    const claimsBefore = await countRows(t.database, "claims");

    const dry = await cli("rules", "retire", "veterans", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      "dry run: retiring rule veterans would remove 8 claims; nothing was changed",
    );
    expect(dry.stdout).toContain('"veteran": 8 users, 7 lose the tag, 1 keep it from another source');
    const held = await cli("rules", "retire", "veterans", "--json");
    expect(JSON.parse(held.stdout)).toMatchObject({ status: "held", removed: 8, claimsBefore: 8 });
    expect(JSON.parse(held.stdout).error).toContain("would remove 8 of 8 claims");
    expect(await countRows(t.database, "tag_events")).toBe(eventsBefore);
    expect(await countRows(t.database, "claims")).toBe(claimsBefore);

    const applied = await cli("rules", "retire", "veterans", "--force");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/retired rule veterans: removed 8 claims \(run \d+\)/);
    // Only the rule's claims went: the manual claim on its tag and the other rule's claims stay.
    expect(await claimsOf(t.database, "veteran")).toEqual([{ entity_id: "u1", source: "manual" }]);
    expect(await claimsOf(t.database, "member")).toHaveLength(8);

    const events = await retirementEvents();
    expect(events).toHaveLength(8);
    const runId = events[0]!.run_id;
    for (const e of events) {
      expect(e).toMatchObject({
        source: "rule:veterans",
        rule_id: "veterans",
        reason: "rule retired",
        run_id: runId,
      });
      expect(e.membership_changed).toBe(e.entity_id !== "u1");
    }
    const [run] = await rows<{ trigger: string; status: string; removed: number; forced: boolean }>(
      t.database.db,
      sql`select trigger, status, removed, forced from rule_runs where id = ${runId}`,
    );
    expect(run).toEqual({ trigger: "manual", status: "applied", removed: 8, forced: true });
    const history = await cli("history", "user", "u2");
    expect(history.stdout).toContain("lost the tag: rule veterans, rule retired");
    expect((await cli("status")).stderr).not.toContain("rules retire");
    // Nothing left: a second retirement removes nothing and records nothing.
    const runs = await countRows(t.database, "rule_runs");
    expect((await cli("rules", "retire", "veterans")).stdout).toContain("holds no claims");
    expect(await countRows(t.database, "rule_runs")).toBe(runs);
  });

  it("retires over the API for admins only", async () => {
    fs.rmSync(path.join(dir, "veterans.json"));
    const keys = await api.createKeys();
    const url = "/v1/rules/veterans/retire";
    expect((await api.call(keys.editor, { method: "POST", url, payload: {} })).statusCode).toBe(403);
    const dry = await api.call(keys.admin, { method: "POST", url, payload: { dryRun: true } });
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({
      rule: "veterans",
      status: "dry-run",
      removed: 8,
      tags: [{ tag: "veteran", entityType: "user", claims: 8, losing: 7 }],
    });
    expect((await api.call(keys.admin, { method: "POST", url, payload: {} })).json()).toMatchObject({
      status: "held",
    });
    const applied = await api.call(keys.admin, { method: "POST", url, payload: { force: true } });
    expect(applied.json()).toMatchObject({ status: "applied", removed: 8 });
    expect(await claimsOf(t.database, "veteran")).toEqual([{ entity_id: "u1", source: "manual" }]);
    const [run] = await rows<{ trigger: string }>(
      t.database.db,
      sql`select trigger from rule_runs where id = ${applied.json().runId}`,
    );
    expect(run?.trigger).toBe("api");
    const missing = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/rules/nobody/retire",
      payload: {},
    });
    expect(missing.statusCode).toBe(404);
  });
});
